import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '@voice/devstack/cache-dir';
import OpusScript from 'opusscript';
import { firstSegmentAfter, type HeardSegment, sleep } from '../../e2e/src/agent-speech.ts';
import type { CallerClip } from '../../e2e/src/scripted-caller.ts';
import type { BenchCaller } from './call-rig.ts';

/**
 * The density rig's light caller (`--rig go`, issue 16): bench/go-caller, one Go process (server-sdk-go + pion)
 * for all calls of a level. It sends the questions as Opus packets encoded once here (no encoder at run time) and
 * finds the agent's replies from the sizes of the RTP packets it receives (no decoder). This process drives it
 * over stdin/stdout (JSON lines) and keeps the same caller interface as the rtc-node ScriptedCaller.
 */

const SOURCE_DIR = fileURLToPath(new URL('../go-caller/', import.meta.url));
/** The binary's name, also how the density benchmark finds its process for the rig's CPU. */
export const GO_CALLER_BINARY = 'voicecall-go-caller';

/** `go build` into the cache (outside the clone); Go's build cache makes an unchanged rebuild ~1 s. */
export async function buildGoCaller(log: (line: string) => void = () => {}): Promise<string> {
  const dir = path.join(cacheDir(), 'go-caller');
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, GO_CALLER_BINARY);
  const partial = `${out}.${process.pid}.partial`;
  log(`building the Go caller (go build in bench/go-caller) into ${dir}`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('go', ['build', '-o', partial, '.'], {
      cwd: SOURCE_DIR,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', (error) =>
      reject(new Error(`go build failed to start (is Go installed?): ${error.message}`)),
    );
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go build exited ${code}`))));
  });
  renameSync(partial, out);
  return out;
}

/**
 * What the pre-encoding is: bump when the encoder or its settings change, so cached clips are made again.
 * 20 ms frames as the agent and rtc-node send; VOIP at 32 kb/s, libwebrtc's default for a mono voice track.
 */
const ENCODING = 'opusscript-0.1.1/voip/32000/20ms/ogg-1';
const OPUS_RATES = [8_000, 12_000, 16_000, 24_000, 48_000];

/**
 * A clip encoded once to Ogg Opus (one packet per page) in the cache, keyed by its samples and the encoding.
 * The Opus encoder takes the clip's own rate (the density callers' 16 kHz is one Opus accepts); on the wire it
 * is 48 kHz Opus like any other.
 */
export function encodeClip(samples: Int16Array, sampleRate: number): string {
  if (!OPUS_RATES.includes(sampleRate)) throw new Error(`Opus cannot encode ${sampleRate} Hz audio`);
  const hash = createHash('sha256')
    .update(ENCODING)
    .update(String(sampleRate))
    .update(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength))
    .digest('hex')
    .slice(0, 24);
  const dir = path.join(cacheDir(), 'go-caller', 'clips');
  const file = path.join(dir, `${hash}.opus`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const encoder = new OpusScript(sampleRate as 16_000, 1, OpusScript.Application.VOIP);
  try {
    encoder.setBitrate(32_000);
    const frame = sampleRate / 50;
    const packets: Buffer[] = [];
    for (let offset = 0; offset < samples.length; offset += frame) {
      const pcm = new Int16Array(frame); // the last frame padded with silence
      pcm.set(samples.subarray(offset, Math.min(offset + frame, samples.length)));
      packets.push(Buffer.from(encoder.encode(Buffer.from(pcm.buffer), frame)));
    }
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, oggOpus(packets, sampleRate));
    renameSync(partial, file);
  } finally {
    encoder.delete();
  }
  return file;
}

/** Ogg Opus (RFC 7845): OpusHead, OpusTags, then one 20 ms packet per page. */
function oggOpus(packets: Buffer[], inputRate: number): Buffer {
  const serial = 0x766f6963; // any fixed serial: the file is a cache entry
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0);
  head.writeUInt8(1, 8); // version
  head.writeUInt8(1, 9); // channels
  head.writeUInt16LE(0, 10); // pre-skip: the clips start with silence, nothing to trim
  head.writeUInt32LE(inputRate, 12);
  head.writeUInt16LE(0, 16); // output gain
  head.writeUInt8(0, 18); // mapping family
  const vendor = Buffer.from(ENCODING);
  const tags = Buffer.alloc(8 + 4 + vendor.length + 4);
  tags.write('OpusTags', 0);
  tags.writeUInt32LE(vendor.length, 8);
  vendor.copy(tags, 12);
  tags.writeUInt32LE(0, 12 + vendor.length);
  const pages = [oggPage(head, 0n, serial, 0, 0x02), oggPage(tags, 0n, serial, 1, 0)];
  let granule = 0n;
  packets.forEach((packet, i) => {
    granule += 960n; // 20 ms at 48 kHz, the granule's clock whatever the input rate
    pages.push(oggPage(packet, granule, serial, i + 2, i === packets.length - 1 ? 0x04 : 0));
  });
  return Buffer.concat(pages);
}

function oggPage(packet: Buffer, granule: bigint, serial: number, sequence: number, flags: number): Buffer {
  const lacing: number[] = [];
  let rest = packet.length;
  while (rest >= 255) {
    lacing.push(255);
    rest -= 255;
  }
  lacing.push(rest);
  if (lacing.length > 255) throw new Error('packet too large for one Ogg page');
  const header = Buffer.alloc(27 + lacing.length);
  header.write('OggS', 0);
  header.writeUInt8(0, 4);
  header.writeUInt8(flags, 5);
  header.writeBigUInt64LE(granule, 6);
  header.writeUInt32LE(serial, 14);
  header.writeUInt32LE(sequence, 18);
  header.writeUInt32LE(0, 22); // CRC, filled below
  header.writeUInt8(lacing.length, 26);
  lacing.forEach((v, i) => {
    header.writeUInt8(v, 27 + i);
  });
  const page = Buffer.concat([header, packet]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, i) => {
  let r = i << 24;
  for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  return r >>> 0;
});

function oggCrc(data: Buffer): number {
  let crc = 0;
  for (const byte of data) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] as number)) >>> 0;
  return crc;
}

type GoEvent = {
  ev: string;
  call?: number;
  t?: number;
  message?: string;
  startedAt?: number;
  lastLoudAt?: number;
  open?: boolean;
  speechEndedAt?: number;
  micDropouts?: number;
  lateP99Ms?: number;
  received?: number;
  loud?: number;
  mime?: string;
};

/** The Go process of one density level: all its calls. */
export class GoCallerProcess {
  readonly child: ChildProcess;
  readonly #callers = new Map<number, GoCaller>();
  readonly #clipIds = new Map<CallerClip, number>();
  #nextCall = 0;
  #exited = false;
  readonly #waiters = new Set<(event: GoEvent) => void>();

  constructor(binary: string, log: (line: string) => void) {
    this.child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.on('exit', () => {
      this.#exited = true;
    });
    this.child.stdin?.on('error', () => {}); // the process died; its callers time out and say so
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let event: GoEvent;
      try {
        event = JSON.parse(line) as GoEvent;
      } catch {
        log(`go caller: ${line}`);
        return;
      }
      if (event.ev === 'error') log(`go caller ${event.call ?? ''}: ${event.message}`);
      for (const waiter of this.#waiters) waiter(event);
      if (event.call !== undefined) this.#callers.get(event.call)?.onEvent(event);
    });
    // pion and server-sdk-go log to stderr: keep the last lines for errors, do not flood the benchmark's output.
    createInterface({ input: this.child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      // (pion's ICE agent says "Failed to ping without candidate pairs" while every connection starts: not a fault)
      if (/error|fail/i.test(line) && !/without candidate pairs/.test(line))
        log(`go caller: ${line.slice(0, 300)}`);
    });
  }

  send(command: Record<string, unknown>): void {
    if (!this.#exited) this.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  /**
   * Resolves with the next event `ev` (of call `call`, when given); an error event of that call rejects it, and so
   * does a time-out.
   */
  next(ev: string, call: number | undefined, timeoutMs: number): Promise<GoEvent> {
    return new Promise((resolve, reject) => {
      const waiter = (event: GoEvent) => {
        if (call !== undefined && event.call !== call) return;
        if (event.ev === ev) {
          done();
          resolve(event);
        } else if (event.ev === 'error' && call !== undefined) {
          done();
          reject(new Error(`go caller, call ${call}: ${event.message}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `go caller: no ${ev}${call === undefined ? '' : ` of call ${call}`} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      this.#waiters.add(waiter);
    });
  }

  /** Encodes (once, cached) and loads the level's clips, and the silence sent between them. */
  async loadClips(clips: readonly CallerClip[]): Promise<void> {
    const rate = clips[0]?.sampleRate ?? 48_000;
    const silence = encodeClip(new Int16Array(rate / 5), rate); // its last packet: settled digital silence
    this.send({ op: 'silence', path: silence });
    await this.next('silence', undefined, 10_000);
    for (const clip of clips) {
      const id = this.#clipIds.size;
      this.#clipIds.set(clip, id);
      const speechEndSeconds = clip.utterances.at(-1)?.end ?? clip.samples.length / clip.sampleRate;
      this.send({
        op: 'clip',
        clip: id,
        path: encodeClip(clip.samples, clip.sampleRate),
        speechEndMs: speechEndSeconds * 1000,
      });
      await this.next('clip', undefined, 10_000);
    }
  }

  clipId(clip: CallerClip): number {
    const id = this.#clipIds.get(clip);
    if (id === undefined) throw new Error('clip not loaded into the Go caller');
    return id;
  }

  newCaller(): GoCaller {
    const caller = new GoCaller(this, this.#nextCall++);
    this.#callers.set(caller.id, caller);
    return caller;
  }

  /** Closes stdin (the process hangs up what is left and exits), then waits a little for it to go. */
  async stop(): Promise<void> {
    this.child.stdin?.end();
    for (let i = 0; i < 50 && !this.#exited; i++) await sleep(100);
    if (!this.#exited) this.child.kill('SIGKILL');
  }
}

/** One call of the Go process, with the rtc-node caller's interface (BenchCaller). */
export class GoCaller implements BenchCaller {
  readonly frameMs = 20;
  micDropouts = 0;
  agentTrackAt = 0;
  /** Packets received from the agent, and of them the ones judged speech (from the last stats). */
  received = 0;
  loudPackets = 0;
  agentMime = '';
  readonly heard: HeardSegment[] = [];
  #lateP99Ms = 0;
  #open: HeardSegment | undefined;
  #joined = false;

  constructor(
    readonly process: GoCallerProcess,
    readonly id: number,
  ) {}

  /** The Go caller's send loop: how late its ticks woke, p99 (ns, as the event-loop histogram's). */
  get loopDelay(): { percentile(p: number): number } {
    return { percentile: () => this.#lateP99Ms * 1e6 };
  }

  onEvent(event: GoEvent): void {
    if (event.ev === 'agentTrack') {
      this.agentTrackAt = event.t ?? Date.now();
      this.agentMime = event.mime ?? '';
    } else if (event.ev === 'segment' && event.startedAt !== undefined && event.lastLoudAt !== undefined) {
      if (event.open) {
        this.#open = { startedAt: event.startedAt, lastLoudAt: event.lastLoudAt };
        this.heard.push(this.#open);
      } else {
        const seg = this.heard.findLast((s) => s.startedAt === event.startedAt);
        if (seg) seg.lastLoudAt = event.lastLoudAt;
        if (this.#open === seg) this.#open = undefined;
      }
    } else if (event.ev === 'stats') {
      this.micDropouts = event.micDropouts ?? 0;
      this.#lateP99Ms = event.lateP99Ms ?? 0;
      this.received = event.received ?? 0;
      this.loudPackets = event.loud ?? 0;
    }
  }

  async join(url: string, token: string): Promise<void> {
    const joined = this.process.next('joined', this.id, 30_000);
    this.process.send({ op: 'join', call: this.id, url, token });
    await joined;
    this.#joined = true;
  }

  async speak(clip: CallerClip): Promise<number> {
    const spoke = this.process.next('spoke', this.id, 120_000);
    this.process.send({ op: 'speak', call: this.id, clip: this.process.clipId(clip) });
    const event = await spoke;
    return event.speechEndedAt ?? Date.now();
  }

  /** Resolves with the first segment of agent speech that starts after `afterMs` (epoch). */
  waitForSpeech(afterMs: number, timeoutMs = 20_000): Promise<HeardSegment> {
    return firstSegmentAfter(() => this.heard, afterMs, timeoutMs);
  }

  /**
   * Resolves once the agent has been quiet for `quietMs`. The Go side reports a segment's end once it has been
   * quiet for 600 ms (the segment gap), with its last loud packet's time.
   */
  async waitForQuiet(quietMs = 1_000, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = this.heard.at(-1);
      if (!last || (!this.#open && Date.now() - last.lastLoudAt >= quietMs)) return;
      if (Date.now() > deadline) throw new Error('agent kept talking');
      await sleep(50);
    }
  }

  /** Asks for the call's counters (mic dropouts, send-loop delay) now. */
  async refreshStats(): Promise<void> {
    const stats = this.process.next('stats', this.id, 5_000);
    this.process.send({ op: 'stats', call: this.id });
    await stats.catch(() => {});
  }

  async hangUp(): Promise<void> {
    if (!this.#joined) return;
    this.#joined = false;
    const stats = this.process.next('stats', this.id, 10_000);
    this.process.send({ op: 'hangup', call: this.id });
    await stats.catch(() => {});
  }
}
