/**
 * `ResponseCounter` on the proxy's own llhttp wrapper (`src/http/llhttp.ts`, response mode): the
 * generator parses responses with exactly the parser the proxy uses upstream. Headers and bodies
 * are ignored; only the status, keep-alive verdict and message boundaries matter here.
 */
import {
  HeadersCompleteResult,
  HttpParser,
  ParserError,
  ParserType,
  type ParserHandler,
} from '../http/llhttp';
import type { ResponseCounter, ResponseSink } from './response-counter';

/** Response heads larger than this are a parse error (the proxy's own limit is of the same order). */
const MAX_HEAD_BYTES = 64 * 1024;

export class LlhttpResponseCounter implements ResponseCounter, ParserHandler {
  private parser: HttpParser;

  constructor(
    private readonly sink: ResponseSink,
    /** Responses to HEAD requests carry no body whatever their Content-Length says. */
    private readonly headRequests: boolean,
  ) {
    this.parser = new HttpParser(ParserType.RESPONSE, this, MAX_HEAD_BYTES);
  }

  feed(data: Buffer): boolean {
    return this.parser.execute(data) === ParserError.OK;
  }

  finish(): void {
    this.parser.finish();
  }

  /** The wrapper has no llhttp_reset: a fresh parser forgets any partial response. */
  reset(): void {
    this.parser.destroy();
    this.parser = new HttpParser(ParserType.RESPONSE, this, MAX_HEAD_BYTES);
  }

  destroy(): void {
    this.parser.destroy();
  }

  onMessageBegin(): number {
    return 0;
  }

  onHeader(): number {
    return 0;
  }

  onHeadersComplete(): number {
    return this.headRequests ? HeadersCompleteResult.SKIP_BODY : HeadersCompleteResult.CONTINUE;
  }

  onBody(): number {
    return 0;
  }

  onTrailer(): number {
    return 0;
  }

  onMessageComplete(): number {
    this.sink.onResponseComplete(this.parser.statusCode, this.parser.keepAlive);
    return 0;
  }
}
