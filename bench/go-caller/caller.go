package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// segmentGapMs: quiet longer than this starts a new segment (as e2e/src/agent-speech.ts: sentences within one
// reply pause less).
const segmentGapMs = 600

// loudPayloadBytes: an agent Opus packet whose payload is larger than this carries speech. The agent's encoder
// (libwebrtc, 48 kHz, 20 ms, DTX) sends 55-byte frames for digital silence, then, in DTX, a 55-byte refresh and a
// 1-byte packet every 400 ms; the espeak-ng replies' speech is 96-150 bytes a packet, the fades into and out of
// pauses 61-72 (measured, bench/README.md). The benchmark's calibration compares the onsets found
// this way with the decode-based onsets of the rtc-node caller (RMS > 0.01 per 10 ms). GO_CALLER_LOUD_BYTES
// overrides it.
var loudPayloadBytes = envInt("GO_CALLER_LOUD_BYTES", 80)

// trace: GO_CALLER_TRACE=file writes every received packet (call, arrival ms, payload size, payload in hex): the
// calibration (bench/src/go-caller-onsets.ts) decodes them offline to compare size-based and decoded onsets.
var trace = openTrace(os.Getenv("GO_CALLER_TRACE"))

func openTrace(path string) io.Writer {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil
	}
	return f
}

func envInt(name string, fallback int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return fallback
}

// clip is a question encoded once to Opus (bench/src/go-caller.ts writes it as Ogg Opus, one packet per page).
type clip struct {
	packets [][]byte
	frameMs float64
	// speechEndMs: where the clip's speech ends (its last utterance), from its start.
	speechEndMs float64
}

func loadClip(path string, speechEndMs float64) (*clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reader, _, err := oggreader.NewWith(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &clip{speechEndMs: speechEndMs}
	for {
		payload, header, err := reader.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, isHeader := header.HeaderType(payload); isHeader || len(payload) == 0 {
			continue
		}
		frameMs := opusPacketMs(payload)
		if c.frameMs == 0 {
			c.frameMs = frameMs
		} else if frameMs != c.frameMs {
			return nil, fmt.Errorf("%s: packets of %v and %v ms (one frame length expected)", path, c.frameMs, frameMs)
		}
		c.packets = append(c.packets, payload)
	}
	if len(c.packets) == 0 {
		return nil, fmt.Errorf("%s: no audio packets", path)
	}
	return c, nil
}

// opusPacketMs is the audio duration of an Opus packet from its TOC byte (RFC 6716 §3.1).
func opusPacketMs(p []byte) float64 {
	config := p[0] >> 3
	var frame float64
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []float64{10, 20, 40, 60}[config%4]
	case config < 16: // hybrid: 10, 20
		frame = []float64{10, 20}[config%2]
	default: // CELT: 2.5, 5, 10, 20
		frame = []float64{2.5, 5, 10, 20}[config%4]
	}
	frames := 1.0
	switch p[0] & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(p) > 1 {
			frames = float64(p[1] & 0x3f)
		}
	}
	return frame * frames
}

type segment struct {
	startedAt  float64
	lastLoudAt float64
}

type speaking struct {
	clip          *clip
	index         int
	speechEndedAt float64
}

// caller is one participant: it publishes a microphone track fed with pre-encoded packets in real time (a
// silence packet between clips, so the track stays a live microphone) and listens to the agent's track.
type caller struct {
	id      int
	silence []byte
	room    *lksdk.Room
	track   *lksdk.LocalTrack

	mu       sync.Mutex
	clip     *speaking
	seg      *segment // the open segment of agent speech, if any
	stopped  bool
	listened bool
	// dropouts: microphone audio not sent in time, in 10 ms units (the send loop woke more than two frames late).
	dropouts int
	// lateMs: how late each send tick woke (the Go scheduler's delay, as the rtc-node caller's event-loop delay).
	lateMs   []float64
	received int
	loud     int
	stop     chan struct{}
	done     chan struct{}
}

func newCaller(id int, silence []byte) *caller {
	return &caller{id: id, silence: silence, stop: make(chan struct{}), done: make(chan struct{})}
}

func (c *caller) join(url, token string) error {
	cb := lksdk.NewRoomCallback()
	cb.ParticipantCallback.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		if track.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		c.mu.Lock()
		first := !c.listened
		c.listened = true
		c.mu.Unlock()
		if !first {
			return
		}
		emit(map[string]any{"ev": "agentTrack", "call": c.id, "t": nowMs(), "mime": track.Codec().MimeType})
		go c.listen(track)
	}
	room, err := lksdk.ConnectToRoomWithToken(url, token, cb, lksdk.WithAutoSubscribe(true))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	c.room = room
	track, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		return err
	}
	c.track = track
	if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name:   "microphone",
		Source: livekit.TrackSource_MICROPHONE,
	}); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	go c.send()
	return nil
}

func (c *caller) speak(cl *clip) {
	c.mu.Lock()
	c.clip = &speaking{clip: cl}
	c.mu.Unlock()
}

// send writes one packet per frame on the wall clock: the clip's while one plays, else the silence packet. A tick
// that wakes more than two frames late skips them (a dropout, as the rtc-node caller counts) rather than sending a
// burst that would add latency.
func (c *caller) send() {
	defer close(c.done)
	frame := 20 * time.Millisecond
	next := time.Now()
	for {
		now := time.Now()
		late := now.Sub(next)
		if late > 2*frame {
			missed := late / frame
			next = next.Add(missed * frame)
			c.mu.Lock()
			c.dropouts += int(missed * frame / (10 * time.Millisecond))
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.lateMs = append(c.lateMs, float64(late)/1e6)
		payload := c.silence
		var spoke *speaking
		if s := c.clip; s != nil {
			payload = s.clip.packets[s.index]
			s.index++
			end := float64(s.index) * s.clip.frameMs
			if s.speechEndedAt == 0 && end >= s.clip.speechEndMs {
				// The packet goes out when its last sample has been "captured": the end of speech was that much
				// audio before now (the rtc-node caller stamps the moment the sample leaves for the encoder).
				s.speechEndedAt = nowMs() - (end - s.clip.speechEndMs)
			}
			if s.index >= len(s.clip.packets) {
				c.clip = nil
				spoke = s
			}
		}
		c.closeSegmentIfQuiet(nowMs())
		c.mu.Unlock()
		if payload != nil {
			_ = c.track.WriteSample(media.Sample{Data: payload, Duration: frame}, nil)
		}
		if spoke != nil {
			emit(map[string]any{"ev": "spoke", "call": c.id, "speechEndedAt": spoke.speechEndedAt, "t": nowMs()})
		}
		next = next.Add(frame)
		timer := time.NewTimer(time.Until(next))
		select {
		case <-c.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// listen reads the agent's RTP packets and finds speech from their payload sizes: no decoding.
func (c *caller) listen(track *webrtc.TrackRemote) {
	red := track.Codec().MimeType == "audio/red"
	buf := make([]byte, 1500)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		at := nowMs()
		payload := rtpPayload(buf[:n])
		if red {
			payload = redPrimary(payload)
		}
		loud := len(payload) > loudPayloadBytes
		if trace != nil {
			fmt.Fprintf(trace, "%d\t%.1f\t%d\t%x\n", c.id, at, len(payload), payload)
		}
		c.mu.Lock()
		c.received++
		if loud {
			c.loud++
			if c.seg != nil && at-c.seg.lastLoudAt < segmentGapMs {
				c.seg.lastLoudAt = math.Max(c.seg.lastLoudAt, at)
			} else {
				c.closeSegmentIfQuiet(math.Inf(1))
				c.seg = &segment{startedAt: at, lastLoudAt: at}
				emit(map[string]any{"ev": "segment", "call": c.id, "startedAt": at, "lastLoudAt": at, "open": true})
			}
		} else {
			c.closeSegmentIfQuiet(at)
		}
		c.mu.Unlock()
	}
}

// closeSegmentIfQuiet reports the open segment's end once it has been quiet for the segment gap (called with
// c.mu held; +Inf closes it now).
func (c *caller) closeSegmentIfQuiet(now float64) {
	if c.seg == nil || now-c.seg.lastLoudAt < segmentGapMs {
		return
	}
	emit(map[string]any{"ev": "segment", "call": c.id, "startedAt": c.seg.startedAt, "lastLoudAt": c.seg.lastLoudAt, "open": false})
	c.seg = nil
}

// rtpPayload strips the RTP header (CSRCs, extension) and padding.
func rtpPayload(p []byte) []byte {
	if len(p) < 12 {
		return nil
	}
	offset := 12 + 4*int(p[0]&0x0f)
	if p[0]&0x10 != 0 && len(p) >= offset+4 {
		offset += 4 + 4*int(binary.BigEndian.Uint16(p[offset+2:offset+4]))
	}
	end := len(p)
	if p[0]&0x20 != 0 && end > 0 {
		end -= int(p[end-1])
	}
	if offset > end {
		return nil
	}
	return p[offset:end]
}

// redPrimary is the primary (newest) block of an RFC 2198 RED payload.
func redPrimary(p []byte) []byte {
	offset, redundant := 0, 0
	for offset < len(p) && p[offset]&0x80 != 0 {
		if offset+4 > len(p) {
			return nil
		}
		redundant += int(binary.BigEndian.Uint16(p[offset+2:offset+4]) & 0x03ff)
		offset += 4
	}
	offset += 1 + redundant
	if offset > len(p) {
		return nil
	}
	return p[offset:]
}

func (c *caller) hangUp() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	c.mu.Unlock()
	if c.track != nil {
		close(c.stop)
		<-c.done
	}
	if c.room != nil {
		c.room.Disconnect()
	}
	c.emitStats()
}

// emitStats reports the call's counters: microphone dropouts, the send loop's wake-up delay p99, packets
// received from the agent and how many of them were judged speech.
func (c *caller) emitStats() {
	c.mu.Lock()
	late := slices.Clone(c.lateMs)
	stats := map[string]any{
		"ev": "stats", "call": c.id, "micDropouts": c.dropouts, "received": c.received, "loud": c.loud,
	}
	c.mu.Unlock()
	slices.Sort(late)
	if len(late) > 0 {
		stats["lateP99Ms"] = late[min(len(late)-1, len(late)*99/100)]
	}
	emit(stats)
}
