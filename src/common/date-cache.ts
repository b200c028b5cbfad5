/**
 * The HTTP `Date` header value, formatted at most once per second instead of per response
 * (nginx's ngx_cached_http_time, Envoy's TlsCachingDateProviderImpl).
 */
export class DateCache {
  private value = new Date().toUTCString();
  private readonly interval: NodeJS.Timeout;

  constructor() {
    this.interval = setInterval(() => {
      this.value = new Date().toUTCString();
    }, 1000);
    this.interval.unref();
  }

  get(): string {
    return this.value;
  }

  close(): void {
    clearInterval(this.interval);
  }
}
