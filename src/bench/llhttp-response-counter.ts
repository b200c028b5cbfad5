/**
 * `ResponseCounter` on the proxy's own llhttp wrapper (`src/http/llhttp.ts`, response mode): the
 * generator parses responses with the same llhttp wasm module and strictness the proxy uses
 * upstream. Headers and bodies are ignored; only the status, keep-alive verdict and message
 * boundaries matter here.
 */
import {
  HeadersCompleteResult,
  HttpParser,
  ParserError,
  ParserType,
  type ParserHandler,
} from '../http/llhttp';
import type { ResponseCounter, ResponseSink } from './response-counter';

/**
 * The wrapper's parser with the head's text spans (status text, header names and values) and the
 * body's spans dropped where they leave wasm. The status code and keep-alive verdict that the generator needs come with
 * headers-complete; building strings for the head (slicing, lower-casing names) was about half of
 * the CPU of parsing a small response. Nothing is accumulated, so the wrapper's head-size limit has
 * nothing to guard: a server that never ends its head runs into the request timeout instead.
 */
class HeadlessResponseParser extends HttpParser {
  constructor(handler: ParserHandler) {
    super(ParserType.RESPONSE, handler, Infinity);
  }

  override urlSpan(): number {
    return 0;
  }

  override statusSpan(): number {
    return 0;
  }

  override fieldSpan(): number {
    return 0;
  }

  override valueSpan(): number {
    return 0;
  }

  /** Bodies are not looked at either: no view of them is made. */
  override bodySpan(): number {
    return 0;
  }
}

export class LlhttpResponseCounter implements ResponseCounter, ParserHandler {
  private parser: HttpParser;

  constructor(
    private readonly sink: ResponseSink,
    /** Responses to HEAD requests carry no body whatever their Content-Length says. */
    private readonly headRequests: boolean,
  ) {
    this.parser = new HeadlessResponseParser(this);
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
    this.parser = new HeadlessResponseParser(this);
  }

  destroy(): void {
    this.parser.destroy();
  }

  onMessageBegin(): number {
    return 0;
  }

  /** Never called: the headless parser reports no header fields. */
  onHeader(): number {
    return 0;
  }

  onHeadersComplete(): number {
    return this.headRequests ? HeadersCompleteResult.SKIP_BODY : HeadersCompleteResult.CONTINUE;
  }

  /** Never called: the headless parser reports no body data. */
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
