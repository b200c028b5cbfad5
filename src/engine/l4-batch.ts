/**
 * The JS side of the engine's tcp_proxy sessions (native-bindings/src/engine/l4.h defines the same
 * layout): once per dispatch the engine hands over a batch of records — sessions that need a host,
 * connects that failed, bytes moved, sessions that ended — and JS answers the host picks in place
 * before the engine goes on. No JS object is made per record: one `L4Record` cursor walks them.
 */

/** l4.h lg_l4_record_kind. */
export const enum L4RecordKind {
  /** A new session: count it and pick a host (`answerConnect`) or refuse it (`answerRefuse`). */
  Pick = 1,
  /** The upstream connect failed (`errno`, `timedOut`): count it, then pick again or refuse. */
  ConnectFailed = 2,
  /** Connected in `connectMs` (only when the pick asked for it). */
  Connected = 3,
  /** Bytes moved since the last report (`bytesUp`, `bytesDown`). */
  Bytes = 4,
  /** The session ended (`endReason`, `upstream`), with its last bytes. */
  End = 5,
  /** The downstream stopped / started being read since the last report (`pausedReading`, `resumedReading`). */
  Flow = 6,
}

/** l4.h lg_l4_end_reason. */
export const enum L4EndReason {
  Clean = 0,
  DownstreamReset = 1,
  UpstreamReset = 2,
  IdleTimeout = 3,
  MaxDuration = 4,
  Drain = 5,
  Refused = 6,
  LocalFailure = 7,
  DownstreamGone = 8,
}

/** What the upstream held when the session ended (l4.h LG_L4_UPSTREAM_*). */
export const enum L4Upstream {
  None = 0,
  Connecting = 1,
  Connected = 2,
}

const FIELDS = 8;
const F_KIND = 0;
const F_LISTENER = 1;
const F_SESSION = 2;
const F_TARGET = 3;
const F_HOST = 4;
const F_INFO = 5;
const F_A = 6;
const F_B = 7;
const ANSWER_CONNECT = 100;
const ANSWER_REFUSE = 101;
const FAILED_TIMED_OUT = 1;
const FAILED_DOWNSTREAM_GONE = 2;

/** A cursor over one record of a batch; valid only during the handler call that received it. */
export class L4Record {
  /** @internal */
  view: Float64Array = new Float64Array(0);
  /** @internal */
  base = 0;

  get kind(): L4RecordKind {
    return this.view[this.base + F_KIND]! as L4RecordKind;
  }
  get listener(): number {
    return this.view[this.base + F_LISTENER]!;
  }
  /** The session's id (unique per engine; what `engineAdoptL4` returned for a handed-over fd). */
  get session(): number {
    return this.view[this.base + F_SESSION]!;
  }
  /** The target index of the last pick, -1 before the first. */
  get target(): number {
    return this.view[this.base + F_TARGET]!;
  }
  /** The host-table slot of the last pick, -1 before the first. */
  get hostSlot(): number {
    return this.view[this.base + F_HOST]!;
  }
  /** Pick / ConnectFailed: connect attempts made so far. */
  get attempts(): number {
    return this.view[this.base + F_INFO]!;
  }
  /** ConnectFailed. */
  get errno(): number {
    return this.view[this.base + F_A]!;
  }
  get timedOut(): boolean {
    return (this.view[this.base + F_B]! & FAILED_TIMED_OUT) !== 0;
  }
  /** ConnectFailed: the downstream failed meanwhile (another attempt would be pointless). */
  get downstreamGone(): boolean {
    return (this.view[this.base + F_B]! & FAILED_DOWNSTREAM_GONE) !== 0;
  }
  get connectMs(): number {
    return this.view[this.base + F_A]!;
  }
  /** Bytes / End: downstream -> upstream since the last report. */
  get bytesUp(): number {
    return this.view[this.base + F_A]!;
  }
  get bytesDown(): number {
    return this.view[this.base + F_B]!;
  }
  /** Flow: times the downstream stopped being read (its bytes waiting for the upstream). */
  get pausedReading(): number {
    return this.view[this.base + F_A]!;
  }
  /** Flow: times it was read again. */
  get resumedReading(): number {
    return this.view[this.base + F_B]!;
  }
  get endReason(): L4EndReason {
    return (this.view[this.base + F_INFO]! & 15) as L4EndReason;
  }
  get upstream(): L4Upstream {
    return (this.view[this.base + F_INFO]! >> 4) as L4Upstream;
  }

  /** Connect to `address` (an `engineL4Address` id) for host `hostSlot` of target `target`. */
  answerConnect(
    target: number,
    hostSlot: number,
    address: number,
    connectTimeoutMs: number,
    reportConnect: boolean,
  ): void {
    const v = this.view;
    const b = this.base;
    v[b + F_KIND] = ANSWER_CONNECT;
    v[b + F_TARGET] = target;
    v[b + F_HOST] = hostSlot;
    v[b + F_INFO] = address;
    v[b + F_A] = connectTimeoutMs;
    v[b + F_B] = reportConnect ? 1 : 0;
  }

  /** Close the downstream: no upstream for this session. */
  answerRefuse(): void {
    this.view[this.base + F_KIND] = ANSWER_REFUSE;
  }
}

/** Receives the records of the sessions of one engine tcp_proxy listener. */
export interface EngineL4Handler {
  onL4Record(record: L4Record): void;
}

/** Delivers batches to the handler of each record's listener. */
export class L4Batches {
  private readonly views: Float64Array[] = [new Float64Array(0), new Float64Array(0)];
  private readonly generations = [-1, -1];
  private readonly record = new L4Record();

  constructor(
    /** The engine's record buffer `which` (called again when its generation changed). */
    private readonly buffer: (which: number) => ArrayBuffer,
    private readonly handlers: readonly (EngineL4Handler | undefined)[],
  ) {}

  deliver(which: number, count: number, generation: number): void {
    if (this.generations[which] !== generation) {
      this.generations[which] = generation;
      this.views[which] = new Float64Array(this.buffer(which));
    }
    const record = this.record;
    record.view = this.views[which]!;
    for (let i = 0; i < count; i++) {
      record.base = i * FIELDS;
      this.handlers[record.listener]?.onL4Record(record);
    }
  }
}
