// Live mode's sound: the microphone as 16 kHz 16-bit PCM (base64 frames for /ws/live),
// and spoken replies played back (PCM audio when the gateway sends it, else the
// browser's speech synthesis reads the reply's text).

export const RATE = 16000;
const FRAME_SAMPLES = 4096; // about a quarter of a second at 16 kHz

/** Records the microphone; ``onFrame`` gets base64 PCM, one frame at a time. */
export class Recorder {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.pending = [];
    this.pendingLength = 0;
    this.samples = 0;
  }

  /** Asks for the microphone and starts sending frames. */
  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    this.context = new AudioContext({ sampleRate: RATE });
    await this.context.audioWorklet.addModule("/static/pcm-worklet.js");
    this.source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, "pcm-capture");
    this.node.port.onmessage = (event) => this.take(event.data);
    this.source.connect(this.node);
    if (this.context.state === "suspended") await this.context.resume();
  }

  /** Keeps one block of samples; sends a frame once there are enough. */
  take(block) {
    const samples = resample(block, this.context.sampleRate, RATE);
    this.pending.push(samples);
    this.pendingLength += samples.length;
    if (this.pendingLength >= FRAME_SAMPLES) this.flush();
  }

  flush() {
    if (!this.pendingLength) return;
    const joined = new Float32Array(this.pendingLength);
    let at = 0;
    for (const part of this.pending) {
      joined.set(part, at);
      at += part.length;
    }
    this.pending = [];
    this.pendingLength = 0;
    this.samples += joined.length;
    this.onFrame(toBase64(toPcm16(joined)));
  }

  /** Stops the microphone, sends what is left; the seconds recorded. */
  async stop() {
    if (this.node) this.node.port.onmessage = null;
    if (this.source) this.source.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.flush();
    if (this.context) await this.context.close();
    return this.samples / RATE;
  }
}

/** Linear resampling of mono Float32 samples (a no-op when the rates match). */
function resample(samples, from, to) {
  if (from === to) return samples;
  const length = Math.floor((samples.length * to) / from);
  const out = new Float32Array(length);
  const step = from / to;
  for (let i = 0; i < length; i++) {
    const x = i * step;
    const left = Math.floor(x);
    const right = Math.min(left + 1, samples.length - 1);
    out[i] = samples[left] + (samples[right] - samples[left]) * (x - left);
  }
  return out;
}

/** Float samples in [-1, 1] as little-endian 16-bit PCM bytes. */
function toPcm16(samples) {
  const view = new DataView(new ArrayBuffer(samples.length * 2));
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Uint8Array(view.buffer);
}

function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

let player = null;
let playAt = 0;

/** Plays base64 16-bit PCM (mono, ``rate`` Hz) after what is already playing. */
export function playPcm(data, rate = 24000) {
  player = player || new AudioContext();
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const buffer = player.createBuffer(1, bytes.length >> 1, rate);
  const channel = buffer.getChannelData(0);
  for (let i = 0; i < channel.length; i++) channel[i] = view.getInt16(i * 2, true) / 0x8000;
  const source = player.createBufferSource();
  source.buffer = buffer;
  source.connect(player.destination);
  playAt = Math.max(playAt, player.currentTime);
  source.start(playAt);
  playAt += buffer.duration;
}

/** Reads ``text`` aloud with the browser's voice, if it has one; whether it will. */
export function speak(text) {
  if (!text || !("speechSynthesis" in window)) return false;
  window.speechSynthesis.cancel();
  window.speechSynthesis.speak(new SpeechSynthesisUtterance(text.replace(/[*_`#>]/g, "")));
  return true;
}
