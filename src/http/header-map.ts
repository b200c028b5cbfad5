/**
 * An ordered multimap of HTTP header fields with lower-cased names, as Envoy keeps them.
 * Two parallel arrays keep one shape and cost no per-header object; lookups are linear, which beats
 * hashing for the ~10 headers a typical request carries.
 */
export class HeaderMap {
  readonly names: string[] = [];
  readonly values: string[] = [];

  get size(): number {
    return this.names.length;
  }

  /** `name` must be lower case. Appends without looking for an existing field. */
  add(name: string, value: string): void {
    this.names.push(name);
    this.values.push(value);
  }

  /** First value of `name` (lower case), or undefined. */
  get(name: string): string | undefined {
    const names = this.names;
    for (let i = 0; i < names.length; i++) if (names[i] === name) return this.values[i];
    return undefined;
  }

  has(name: string): boolean {
    return this.names.indexOf(name) !== -1;
  }

  /** How many fields are called `name` (lower case). */
  count(name: string): number {
    const names = this.names;
    let n = 0;
    for (let i = 0; i < names.length; i++) if (names[i] === name) n++;
    return n;
  }

  getAll(name: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.names.length; i++) if (this.names[i] === name) out.push(this.values[i]!);
    return out;
  }

  /** Replaces every field called `name` by one field with `value` (added at the end if absent). */
  set(name: string, value: string): void {
    const i = this.names.indexOf(name);
    if (i === -1) {
      this.add(name, value);
      return;
    }
    this.values[i] = value;
    this.removeFrom(name, i + 1);
  }

  /** Removes every field called `name`; returns how many were removed. */
  remove(name: string): number {
    return this.removeFrom(name, 0);
  }

  clear(): void {
    this.names.length = 0;
    this.values.length = 0;
  }

  private removeFrom(name: string, start: number): number {
    const names = this.names;
    const values = this.values;
    let w = names.indexOf(name, start);
    // Most removals find nothing (hop-by-hop fields on ordinary messages): no array is touched then.
    if (w === -1) return 0;
    for (let r = w + 1; r < names.length; r++) {
      if (names[r] === name) continue;
      names[w] = names[r]!;
      values[w] = values[r]!;
      w++;
    }
    const removed = names.length - w;
    names.length = w;
    values.length = w;
    return removed;
  }
}
