// The live feed: `/api/v1/live` over WebSocket. The first message is `{type:"hello", seq}`;
// every change is `{seq, type, data}`; `{type:"resync"}` means events were lost and the page
// must refetch over REST. On a dropped connection it reconnects with `?since=<last seq>`, so
// the server replays what was missed. While disconnected, `onPoll` runs every few seconds so
// nothing waits for the socket to come back.

/** Starts the feed; returns a handle with `close()`. */
export function startLive({ onEvent, onResync, onStatus, onPoll }) {
  let seq = null;
  let ws = null;
  let backoff = 500;
  let closed = false;
  let pollTimer = null;

  const setStatus = (s) => {
    onStatus(s);
    if (s === 'live') { clearInterval(pollTimer); pollTimer = null; }
    else if (!pollTimer) pollTimer = setInterval(() => onPoll(), 3000);
  };

  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/api/v1/live${seq === null ? '' : `?since=${seq}`}`;
    try { ws = new WebSocket(url); } catch { retry(); return; }
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type === 'hello') {
        setStatus('live');
        backoff = 500;
        // First connection: the page loads everything now, events after `seq` follow.
        if (seq === null) onResync();
        seq = msg.seq;
        return;
      }
      if (msg.type === 'resync') {
        seq = msg.seq;
        onResync();
        return;
      }
      if (typeof msg.seq === 'number') {
        if (seq !== null && msg.seq <= seq) return; // a replayed event already applied
        seq = msg.seq;
      }
      onEvent(msg);
    };
    ws.onclose = () => { if (!closed) { setStatus('down'); retry(); } };
    ws.onerror = () => { /* onclose follows */ };
  }

  function retry() {
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10000);
  }

  setStatus('down');
  connect();
  return { close() { closed = true; ws?.close(); clearInterval(pollTimer); }, get seq() { return seq; } };
}
