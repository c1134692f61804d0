// Live mode's microphone tap: hands each block of samples (mono Float32) to the page,
// which turns them into 16 kHz 16-bit PCM frames for /ws/live.
class PcmCapture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel && channel.length) this.port.postMessage(channel.slice(0));
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
