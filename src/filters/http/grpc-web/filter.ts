/**
 * The gRPC-Web filter (Envoy's `grpc_web`): a browser's gRPC-Web request (content-type
 * `application/grpc-web[+proto]`, or `application/grpc-web-text[+proto]` with a base64 body)
 * goes upstream as gRPC (`application/grpc`, `te: trailers`, the body decoded), and the response
 * comes back as gRPC-Web: content-type `application/grpc-web+proto` (`-text+proto`, base64, when
 * the client's `accept` asks for text) and the trailers as a frame (flags 0x80) at the end of the
 * body, since browsers' fetch cannot read HTTP trailers.
 *
 * As Envoy does: a body that is not valid base64 is answered 400 with grpc-status INTERNAL, and an
 * answer that is not gRPC (an HTTP error page, say) becomes a headers-only response with
 * grpc-status mapped from its HTTP status and its body (up to 16 KiB) as grpc-message.
 * Cross-origin preflights are the cors filter's business, not this one's.
 */
import { grpcStatusForHttp, isGrpcResponse, percentEncode } from '../../../http/grpc';
import type { RequestHead, ResponseHead } from '../../../http/codec';
import type { HeaderMap } from '../../../http/header-map';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  PassThroughFilter,
  type StreamFilter,
} from '../api';
import { Base64FrameEncoder, Base64StreamDecoder, trailersFrame } from './codec';

const GRPC_WEB = 'application/grpc-web';
const GRPC_WEB_PROTO = 'application/grpc-web+proto';
const GRPC_WEB_TEXT = 'application/grpc-web-text';
const GRPC_WEB_TEXT_PROTO = 'application/grpc-web-text+proto';

/** The most of a non-gRPC answer's body kept for its grpc-message (Envoy's limit). */
const MAX_GRPC_MESSAGE_BODY = 16384;
const BAD_BASE64 = 'Bad gRPC-web request, invalid base64 data.';
const EMPTY = Buffer.alloc(0);

/** Whether a response's content-type, parameters aside, is gRPC-Web's proto encoding (any case). */
function isProtoGrpcWebContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const semicolon = value.indexOf(';');
  const type = (semicolon === -1 ? value : value.slice(0, semicolon)).trimEnd().toLowerCase();
  return type === GRPC_WEB || type === GRPC_WEB_PROTO;
}

class GrpcWebFilter extends PassThroughFilter {
  private grpcWeb = false;
  /** The request body is base64 (`-text`), decoded by `decoder`. */
  private decoder: Base64StreamDecoder | null = null;
  /** The client asked for a base64 response: frames are encoded by `encoder`. */
  private encoder: Base64FrameEncoder | null = null;
  /** The request's content-type before it became gRPC's (for this filter's own local replies). */
  private clientContentType = '';
  /**
   * The answer is not gRPC: its head is held (StopIteration) while its body is collected into
   * grpc-message; null otherwise.
   */
  private nonGrpcHead: ResponseHead | null = null;
  private nonGrpcBody: Buffer[] = [];
  private nonGrpcBodyBytes = 0;

  override decodeHeaders(head: RequestHead, endStream: boolean): FilterHeadersStatus {
    const headers = head.headers;
    const contentType = headers.get('content-type');
    const text = contentType === GRPC_WEB_TEXT || contentType === GRPC_WEB_TEXT_PROTO;
    if (!text && contentType !== GRPC_WEB && contentType !== GRPC_WEB_PROTO)
      return FilterHeadersStatus.Continue;
    this.grpcWeb = true;
    this.clientContentType = contentType!;
    if (text) this.decoder = new Base64StreamDecoder();
    const accept = headers.get('accept');
    if (accept === GRPC_WEB_TEXT || accept === GRPC_WEB_TEXT_PROTO) this.encoder = new Base64FrameEncoder();
    // The body's length changes (base64), and gRPC over HTTP/2 is framed by DATA frames anyway.
    headers.remove('content-length');
    head.contentLength = -1;
    if (!endStream) head.chunked = true;
    headers.set('content-type', 'application/grpc');
    headers.set('te', 'trailers');
    if (!headers.has('grpc-accept-encoding')) headers.set('grpc-accept-encoding', 'identity');
    return FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    const decoder = this.decoder;
    if (decoder === null) return FilterDataStatus.Continue;
    if (endStream && (decoder.pendingBytes + data.length) % 4 !== 0) {
      return this.rejectBody('grpc_base_64_decode_failed_bad_size');
    }
    const decoded = decoder.decode(data);
    if (decoded === null) return this.rejectBody('grpc_base_64_decode_failed');
    if (decoded.length > 0 || endStream) this.callbacks.injectDecodedData(decoded, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  /**
   * Answers 400 with grpc-status INTERNAL, as Envoy: a plain local reply to the gRPC-Web client,
   * which encodeHeaders turns into gRPC-Web like any answer that is not gRPC.
   */
  private rejectBody(details: string): FilterDataStatus {
    this.callbacks.requestHeaders.set('content-type', this.clientContentType);
    this.callbacks.sendLocalReply(400, BAD_BASE64, details);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override encodeHeaders(head: ResponseHead, endStream: boolean): FilterHeadersStatus {
    if (!this.grpcWeb) return FilterHeadersStatus.Continue;
    const headers = head.headers;
    const grpc =
      isGrpcResponse(head.status, headers, endStream) ||
      (head.status === 200 && isProtoGrpcWebContentType(headers.get('content-type')));
    // The body is re-framed (trailers frame, base64): its length is not the upstream's.
    headers.remove('content-length');
    this.callbacks.setResponseContentLength(endStream ? 0 : -1);
    headers.set('content-type', this.encoder !== null ? GRPC_WEB_TEXT_PROTO : GRPC_WEB_PROTO);
    if (grpc || endStream) return FilterHeadersStatus.Continue;
    this.nonGrpcHead = head;
    return FilterHeadersStatus.StopIteration;
  }

  override encodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    if (!this.grpcWeb) return FilterDataStatus.Continue;
    if (this.nonGrpcHead !== null) {
      const room = MAX_GRPC_MESSAGE_BODY - this.nonGrpcBodyBytes;
      if (room > 0 && data.length > 0) {
        const kept = Buffer.from(data.subarray(0, room));
        this.nonGrpcBody.push(kept);
        this.nonGrpcBodyBytes += kept.length;
      }
      if (endStream) this.answerNonGrpc();
      return FilterDataStatus.StopIterationNoBuffer;
    }
    const encoder = this.encoder;
    if (encoder === null) return FilterDataStatus.Continue;
    let text = encoder.encode(data);
    if (endStream) text += encoder.flush();
    if (text !== '' || endStream) this.callbacks.injectEncodedData(Buffer.from(text, 'latin1'), endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override encodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (!this.grpcWeb) return FilterTrailersStatus.Continue;
    if (this.nonGrpcHead !== null) {
      this.answerNonGrpc();
      return FilterTrailersStatus.StopIteration;
    }
    const frame = trailersFrame(trailers);
    const encoder = this.encoder;
    const body = encoder === null ? frame : Buffer.from(encoder.flush() + frame.toString('base64'), 'latin1');
    this.callbacks.injectEncodedData(body, true);
    return FilterTrailersStatus.StopIteration;
  }

  /** The held head of an answer that is not gRPC goes out with grpc-status and grpc-message, and no body. */
  private answerNonGrpc(): void {
    const head = this.nonGrpcHead!;
    this.nonGrpcHead = null;
    head.headers.set('grpc-status', String(grpcStatusForHttp(head.status)));
    head.headers.set('grpc-message', percentEncode(Buffer.concat(this.nonGrpcBody)));
    this.nonGrpcBody = [];
    this.callbacks.setResponseContentLength(0);
    this.callbacks.continueEncoding();
    this.callbacks.injectEncodedData(EMPTY, true);
  }
}

export function createGrpcWebFilterFactory(): () => StreamFilter {
  return () => new GrpcWebFilter();
}
