/**
 * Counts gRPC messages in a body as it streams by (Envoy's Grpc::FrameInspector): each frame is a
 * flags byte, a 4-byte big-endian length and that many bytes; a frame counts when its first byte
 * is seen, however the body is split.
 */
export class GrpcFrameCounter {
  /** Frames seen so far. */
  count = 0;
  /** Bytes of the current frame's header still to read (0: a new frame starts with the next byte). */
  private headerLeft = 0;
  /** Its length, as far as read. */
  private length = 0;
  /** Bytes of the current frame's message still to skip. */
  private payloadLeft = 0;

  /** Reads `data`; returns how many frames began in it. */
  inspect(data: Buffer): number {
    const before = this.count;
    let at = 0;
    while (at < data.length) {
      if (this.payloadLeft > 0) {
        const skip = Math.min(this.payloadLeft, data.length - at);
        this.payloadLeft -= skip;
        at += skip;
        continue;
      }
      if (this.headerLeft === 0) {
        // The flags byte of a new frame.
        this.count++;
        this.headerLeft = 4;
        this.length = 0;
        at++;
        continue;
      }
      this.length = this.length * 256 + data[at++]!;
      if (--this.headerLeft === 0) this.payloadLeft = this.length;
    }
    return this.count - before;
  }
}
