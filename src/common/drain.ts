/**
 * How a drain (SIGTERM/SIGINT, admin `/drain_listeners`) treats connections with nothing in flight.
 * Listeners stop accepting at once; in-flight HTTP requests are answered (up to `--drain-time-s`);
 * what is left open but idle must not hold the exit, yet a request already on its way must not
 * meet a FIN instead of an answer.
 *
 * A connection that has been quiet for DRAIN_QUIET_MS (HTTP: no request since its last response;
 * tcp_proxy: no byte either way) is idle and closed at once. One that was busy more recently
 * stays open until it has been that quiet: over HTTP/1 a request arriving meanwhile is answered
 * with `Connection: close`, as Envoy's drain sequence does, at most until the HCM's
 * `drain_timeout`. A client sending steadily (more than one request a second on a connection)
 * therefore always gets an answer, and a process with only idle connections exits at once.
 */
export const DRAIN_QUIET_MS = 1000;

/**
 * tcp_proxy sessions still moving bytes when draining began are closed after this grace (each as
 * soon as it is quiet for DRAIN_QUIET_MS, if that comes first). TCP has no request boundary to
 * wait for, and a long-lived session (a database connection, a tunnel) might never go quiet: Envoy
 * closes every tcp_proxy connection when it exits; this keeps a short, bounded grace instead.
 */
export const TCP_PROXY_DRAIN_GRACE_MS = 5000;
