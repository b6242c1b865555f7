/* duban: the one websocket client every page uses (see docs/websocket.md).
 *
 *   DubanLive.connect({screen, onHello(msg), onData(msg, isSnapshot), onStatus(state)})
 *
 * - One socket at a time. Handlers are set as properties on the socket (not added as
 *   listeners) and cleared when it is dropped, so nothing accumulates across reconnects; a
 *   big-screen runs for weeks.
 * - Applies `update` only when seq == last + 1; a gap reconnects with `since`.
 * - Sends {"type":"ping"} every heartbeat_seconds; if nothing arrives from the server for
 *   twice that, the connection counts as lost (a half-open TCP link never closes by itself).
 * - Reconnects with backoff: 1 s doubling to 30 s, with ±20 % jitter so a hall full of
 *   screens does not reconnect in lockstep after a daemon restart.
 * - Shows #banner-connection (连接中断，正在重连) while disconnected, and sets
 *   body[data-seq] (last applied seq) and body[data-live] (open | closed | unauthorized).
 * - One timer for the heartbeat and one for the retry, both replaced, never stacked.
 */
(function () {
  'use strict';

  var MIN_DELAY = 1000;
  var MAX_DELAY = 30000;
  var CONNECTION_TEXT = '连接中断，正在重连';
  var UNAUTHORIZED_TEXT = '访问令牌无效，请向督办办公室索取新的链接（仍在重试）';

  function connect(opts) {
    var token = (window.Duban && window.Duban.token) || '';
    var ws = null;            // the current socket, or null
    var lastSeq = null;       // the last seq applied (snapshot or update)
    var pending = null;       // a snapshot fetched over HTTP, applied right after hello
    var attempt = 0;          // failed attempts in a row, for the backoff
    var retryTimer = 0;
    var beatTimer = 0;
    var heartbeat = 20;       // seconds; the server's hello says the real value
    var lastHeard = 0;        // when anything last arrived (or the socket was created)
    var lastPing = 0;
    var openedAt = 0;
    var gotHello = false;
    var noHelloInRow = 0;     // connections in a row that failed before any hello
    var lastGapAt = 0;
    var authChecking = false;
    var banner = document.getElementById('banner-connection');
    var bannerText = banner ? (banner.querySelector('.banner-text') || banner) : null;

    function setState(state) {
      if (document.body.dataset.live !== state) document.body.dataset.live = state;
      if (banner) {
        banner.hidden = state === 'open';
        var text = state === 'unauthorized' ? UNAUTHORIZED_TEXT : CONNECTION_TEXT;
        if (bannerText.textContent !== text) bannerText.textContent = text;
      }
      if (opts.onStatus) {
        try { opts.onStatus(state); } catch (e) { console.error(e); }
      }
    }

    function url() {
      var qs = new URLSearchParams();
      if (opts.screen) qs.set('screen', opts.screen);
      qs.set('token', token);
      var since = lastSeq !== null ? lastSeq : pending ? pending.seq : null;
      if (since !== null) qs.set('since', String(since));
      return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws?' + qs;
    }

    /** The first state comes over plain HTTP, then the socket opens with `since`: the server
     *  then never sends the (large) snapshot on the socket, which keeps every connection's
     *  buffers small. If the fetch fails the socket brings the snapshot itself. */
    function open() {
      retryTimer = 0;
      if (lastSeq !== null) { openSocket(); return; }
      var qs = new URLSearchParams();
      if (opts.screen) qs.set('screen', opts.screen);
      qs.set('token', token);
      fetch('/live/snapshot?' + qs, { cache: 'no-store' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          pending = s && s.type === 'snapshot' && typeof s.seq === 'number' ? s : null;
          if (pending && window.Duban) window.Duban.adoptZone(pending.data_time);
        })
        .catch(function () { pending = null; })
        .then(openSocket);
    }

    function openSocket() {
      var sock;
      try {
        sock = new WebSocket(url());
      } catch (e) {
        schedule();
        return;
      }
      ws = sock;
      gotHello = false;
      openedAt = lastHeard = lastPing = Date.now();
      sock.onmessage = function (ev) {
        if (sock !== ws) return;
        lastHeard = Date.now();
        handle(ev.data);
      };
      sock.onclose = function () { if (sock === ws) lost(); };
      sock.onerror = function () { /* a close event follows */ };
      // One timer per page: cleared before a new one starts.
      clearInterval(beatTimer);
      beatTimer = setInterval(beat, 1000);
    }

    /** Detaches and closes a socket: its late events can no longer reach us. */
    function drop() {
      var sock = ws;
      ws = null;
      clearInterval(beatTimer);
      beatTimer = 0;
      if (!sock) return;
      sock.onmessage = sock.onclose = sock.onerror = null;
      try { sock.close(); } catch (e) { /* already closed */ }
    }

    function beat() {
      if (!ws) return;
      var now = Date.now();
      if (now - lastHeard > 2 * heartbeat * 1000) {
        lost();
        return;
      }
      if (ws.readyState === WebSocket.OPEN && now - lastPing >= heartbeat * 1000) {
        lastPing = now;
        try { ws.send('{"type":"ping"}'); } catch (e) { /* close follows */ }
      }
    }

    /** The current connection is gone (closed, failed, or silent too long). */
    function lost() {
      // A connection that lived a while resets the backoff: a blip after a day online
      // retries after about a second, a server refusing us backs off to 30 s.
      if (gotHello && Date.now() - openedAt > 10000) attempt = 0;
      noHelloInRow = gotHello ? 0 : noHelloInRow + 1;
      drop();
      if (document.body.dataset.live !== 'unauthorized') setState('closed');
      // A socket refused before the upgrade gives the browser no status code; after a few
      // such failures ask for the page itself, which answers 401 when the token is wrong.
      if (noHelloInRow >= 3) checkAuth();
      schedule();
    }

    function schedule(delay) {
      if (retryTimer) return;
      if (delay === undefined) {
        var base = Math.min(MAX_DELAY, MIN_DELAY * Math.pow(2, Math.min(attempt, 10)));
        attempt += 1;
        delay = Math.min(MAX_DELAY, base * (0.8 + Math.random() * 0.4));
      }
      retryTimer = setTimeout(open, delay);
    }

    function checkAuth() {
      if (authChecking) return;
      authChecking = true;
      fetch(location.href, { cache: 'no-store', method: 'GET' })
        .then(function (res) {
          if (res.status === 401) setState('unauthorized');
        })
        .catch(function () { /* server down: the banner already says so */ })
        .then(function () { authChecking = false; });
    }

    /** Reconnect at once with `since` after a seq gap (with backoff if gaps repeat). */
    function resync() {
      var now = Date.now();
      var quick = now - lastGapAt > 10000;
      lastGapAt = now;
      drop();
      schedule(quick ? 0 : undefined);
    }

    function apply(msg, isSnapshot) {
      lastSeq = msg.seq;
      try {
        opts.onData(msg, isSnapshot);
      } catch (e) {
        // A rendering fault must not take the connection with it.
        console.error(e);
      }
      document.body.dataset.seq = String(msg.seq);
    }

    function handle(text) {
      var msg;
      try { msg = JSON.parse(text); } catch (e) { return; }
      if (!msg || typeof msg !== 'object') return;
      switch (msg.type) {
        case 'hello':
          gotHello = true;
          noHelloInRow = 0;
          if (msg.heartbeat_seconds > 0) heartbeat = msg.heartbeat_seconds;
          if (window.Duban) window.Duban.syncClock(msg.server_time);
          setState('open');
          if (opts.onHello) {
            try { opts.onHello(msg); } catch (e) { console.error(e); }
          }
          if (pending) {
            var first = pending;
            pending = null;
            apply(first, true);
          }
          break;
        case 'snapshot':
          pending = null;
          if (typeof msg.seq === 'number') apply(msg, true);
          break;
        case 'update':
          if (lastSeq !== null && msg.seq === lastSeq + 1) apply(msg, false);
          else resync();
          break;
        case 'pong':
          if (window.Duban) window.Duban.syncClock(msg.server_time);
          break;
        default:
          break;
      }
    }

    // Back online (laptop woke up, cable back): try now instead of waiting out the backoff.
    window.addEventListener('online', function () {
      if (!ws && retryTimer) {
        clearTimeout(retryTimer);
        retryTimer = 0;
        attempt = 0;
        open();
      }
    });

    open();
    return {
      seq: function () { return lastSeq; },
      /** A page whose API call answered 401 says so: the banner then names the token. */
      unauthorized: function () { setState('unauthorized'); }
    };
  }

  /** The live wiring of a browser page (dashboard, item, phone): every applied message
   * runs `onMessage` (if given), shows the data time (#data-time) and the stale-feed banner
   * (#banner-stale), and reloads the page's list through `refresh`. The first load waits
   * for the first message (it brings the daemon's zone, so stored UTC times show in it),
   * or 1.5 s if the socket is slow or down. Returns the connection. */
  function page(refresh, onMessage) {
    var dataTime = document.getElementById('data-time');
    var staleBanner = document.getElementById('banner-stale');
    var first = setTimeout(refresh, 1500);
    return connect({
      screen: null,
      onData: function (msg) {
        if (onMessage) onMessage(msg);
        Duban.setText(dataTime, Duban.dataTimeText(msg.data_time));
        Duban.showFeeds(staleBanner, msg.feeds);
        clearTimeout(first);
        refresh();
      }
    });
  }

  window.DubanLive = { connect: connect, page: page };
})();
