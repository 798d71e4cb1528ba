// Command go-caller is the density benchmark's light caller (issue 16): many LiveKit participants in one process
// that speak pre-encoded Opus and find the agent's replies from the RTP packets they receive, with no Opus encoder
// or decoder at run time. The benchmark (bench/src/go-caller.ts) drives it: JSON commands on stdin, one per line,
// JSON events on stdout, one per line. Times are epoch milliseconds (float), the benchmark's clock.
//
// Commands:
//
//	{"op":"clip","clip":0,"path":"q0.opus","speechEndMs":2310}  load an Ogg Opus clip (one packet per page)
//	{"op":"silence","path":"silence.opus"}                      the packet sent between clips
//	{"op":"join","call":0,"url":"ws://…","token":"…"}
//	{"op":"speak","call":0,"clip":0}
//	{"op":"hangup","call":0}
//
//	{"op":"stats","call":0}
//
// Events: joined, agentTrack, segment (a reply's onset, then again when it ended), spoke (the clip was sent; its
// speech ended at speechEndedAt), stats (on request and after hangup), error.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

type command struct {
	Op          string  `json:"op"`
	Call        int     `json:"call"`
	Clip        int     `json:"clip"`
	Path        string  `json:"path"`
	SpeechEndMs float64 `json:"speechEndMs"`
	URL         string  `json:"url"`
	Token       string  `json:"token"`
}

var (
	outMu sync.Mutex
	out   = bufio.NewWriter(os.Stdout)
)

// emit writes one event line (flushed at once: the benchmark waits on these).
func emit(event map[string]any) {
	line, err := json.Marshal(event)
	if err != nil {
		return
	}
	outMu.Lock()
	defer outMu.Unlock()
	_, _ = out.Write(line)
	_ = out.WriteByte('\n')
	_ = out.Flush()
}

func emitError(call int, err error) {
	emit(map[string]any{"ev": "error", "call": call, "message": err.Error()})
}

// nowMs is the epoch in milliseconds with sub-millisecond precision, as Date.now() on the benchmark's side.
func nowMs() float64 {
	return float64(time.Now().UnixNano()) / 1e6
}

func main() {
	clips := map[int]*clip{}
	var silence []byte
	calls := map[int]*caller{}
	var clipsMu sync.RWMutex
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 64*1024), 1<<20)
	for scanner.Scan() {
		var cmd command
		if err := json.Unmarshal(scanner.Bytes(), &cmd); err != nil {
			emitError(-1, fmt.Errorf("bad command: %w", err))
			continue
		}
		switch cmd.Op {
		case "clip":
			c, err := loadClip(cmd.Path, cmd.SpeechEndMs)
			if err != nil {
				emitError(-1, err)
				continue
			}
			clipsMu.Lock()
			clips[cmd.Clip] = c
			clipsMu.Unlock()
			emit(map[string]any{"ev": "clip", "clip": cmd.Clip, "packets": len(c.packets)})
		case "silence":
			c, err := loadClip(cmd.Path, 0)
			if err != nil || len(c.packets) == 0 {
				emitError(-1, fmt.Errorf("silence: %v", err))
				continue
			}
			silence = c.packets[len(c.packets)-1]
			emit(map[string]any{"ev": "silence", "bytes": len(silence)})
		case "join":
			c := newCaller(cmd.Call, silence)
			calls[cmd.Call] = c
			go func(c *caller, url, token string) {
				if err := c.join(url, token); err != nil {
					emitError(c.id, err)
					return
				}
				emit(map[string]any{"ev": "joined", "call": c.id, "t": nowMs()})
			}(c, cmd.URL, cmd.Token)
		case "speak":
			c := calls[cmd.Call]
			clipsMu.RLock()
			cl := clips[cmd.Clip]
			clipsMu.RUnlock()
			if c == nil || cl == nil {
				emitError(cmd.Call, fmt.Errorf("speak: no call %d or clip %d", cmd.Call, cmd.Clip))
				continue
			}
			c.speak(cl)
		case "stats":
			if c := calls[cmd.Call]; c != nil {
				go c.emitStats()
			}
		case "hangup":
			if c := calls[cmd.Call]; c != nil {
				delete(calls, cmd.Call)
				go c.hangUp()
			}
		default:
			emitError(-1, fmt.Errorf("unknown op %q", cmd.Op))
		}
	}
	// stdin closed: the benchmark is done (or gone); leave the rooms.
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func(c *caller) {
			defer wg.Done()
			c.hangUp()
		}(c)
	}
	wg.Wait()
}
