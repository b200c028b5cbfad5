/**
 * Bytes ↔ latin1 strings without `toString`'s argument handling: Node's Buffer has a fast
 * `latin1Slice` (not in its typings). latin1 maps every byte to one char, so any bytes round-trip.
 */
interface Latin1Sliceable {
  latin1Slice(start: number, end: number): string;
}

export function latin1Slice(buffer: Buffer, start: number, end: number): string {
  return (buffer as unknown as Latin1Sliceable).latin1Slice(start, end);
}
