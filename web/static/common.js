/* duban: helpers shared by every page (screen, dashboard, item, phone).
 *
 * Rules kept here so every page follows them:
 *  - data from the server is placed with textContent only (el(), setText()); the server's
 *    chart SVG strings are the one exception, and only screen.js places them;
 *  - the access token comes from the page URL and is passed on to every API call and link;
 *  - times are shown in the daemon's zone (learnt from its hello), whatever the browser's
 *    zone, and the clock is corrected when the machine's own clock is clearly wrong, so a
 *    screen PC set up carelessly still shows the supervision office's time.
 */
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var token = params.get('token') || '';

  var GRADE = {
    blue: { short: '蓝', word: '超前', full: '蓝 超前' },
    yellow: { short: '黄', word: '正常', full: '黄 正常' },
    red: { short: '红', word: '超期', full: '红 超期' }
  };
  var STAGES = ['立项用地规划许可', '工程建设许可', '施工许可', '竣工验收'];
  var STATUS = { pending: '在办', paused: '暂停计时', finished: '已办结', withdrawn: '已撤回' };
  var PAUSE_KIND = {
    correction: '补正材料', hearing: '听证', tender: '招标', auction: '拍卖',
    inspection: '现场勘查', testing: '检验检测', quarantine: '检疫', appraisal: '鉴定',
    expert_review: '专家评审', other: '其他'
  };
  var CATEGORY = {
    government_investment: '政府投资', general_social: '一般社会投资',
    simple_low_risk: '简易低风险', land_start: '拿地即开工'
  };
  var WEEKDAYS = ['日', '一', '二', '三', '四', '五', '六'];
  var nf = new Intl.NumberFormat('zh-CN');

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /** Creates an element; text (if given) is set with textContent, never parsed. */
  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  /** Sets text only when it differs: avoids needless layout on every update. */
  function setText(node, text) {
    text = text === undefined || text === null ? '' : String(text);
    if (node.textContent !== text) node.textContent = text;
  }

  function int(n) {
    return typeof n === 'number' && isFinite(n) ? nf.format(n) : '—';
  }

  /** on_time_rate (0–1 or null) as a percentage with one decimal. */
  function rate(r) {
    return typeof r === 'number' && isFinite(r) ? (r * 100).toFixed(1) + '%' : '—';
  }

  /** Appends the token to a same-site path, keeping any query it already has. */
  function withToken(path) {
    if (!token) return path;
    return path + (path.indexOf('?') < 0 ? '?' : '&') + 'token=' + encodeURIComponent(token);
  }

  /** GET a JSON API path (query object optional). Rejects with {status, message}. */
  function api(path, query, signal) {
    var qs = new URLSearchParams();
    if (query) {
      Object.keys(query).forEach(function (k) {
        var v = query[k];
        if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
      });
    }
    if (token) qs.set('token', token);
    var url = path + (qs.toString() ? '?' + qs.toString() : '');
    return fetch(url, { cache: 'no-store', signal: signal, headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (res.ok) return res.json();
        return res.text().then(function (body) {
          var message = body;
          try { message = JSON.parse(body).error || body; } catch (e) { /* plain text */ }
          var err = new Error(String(message || res.statusText));
          err.status = res.status;
          throw err;
        });
      });
  }

  /**
   * Splits an RFC 3339 string into its local (server-zone) parts without converting it to
   * the browser's zone. Returns null when it does not look like one.
   */
  function parts(s) {
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(s || '');
    if (!m) return null;
    return { y: m[1], mo: m[2], d: m[3], h: m[4] || '00', mi: m[5] || '00', s: m[6] || '00' };
  }

  /**
   * The parts of a time in the daemon's zone. The websocket's times carry the zone's offset
   * already, but the API's stored times are UTC ("…Z"), so every instant is converted: to
   * the zone learnt from the server's own clock (hello/pong), or before that to the offset
   * the string carries, or for a "Z" string to the browser's zone. Dates without a time and
   * times without a zone are shown as written.
   */
  function zparts(s) {
    s = s ? String(s) : '';
    var own = offsetOf(s);
    var t = Date.parse(s);
    if (own === null || !isFinite(t) || !/\d[T ]\d{2}:\d{2}/.test(s)) return parts(s);
    var off = clock.offset !== null ? clock.offset
      : (/Z$/i.test(s) ? -new Date(t).getTimezoneOffset() : own);
    var d = new Date(t + off * 60000);
    return {
      y: String(d.getUTCFullYear()), mo: pad(d.getUTCMonth() + 1), d: pad(d.getUTCDate()),
      h: pad(d.getUTCHours()), mi: pad(d.getUTCMinutes()), s: pad(d.getUTCSeconds())
    };
  }

  /** "2026-11-25 20:01" from an RFC 3339 string (or the date alone for a date). */
  function dateTime(s) {
    var p = zparts(s);
    if (!p) return s ? String(s) : '—';
    if (String(s).length <= 10) return p.y + '-' + p.mo + '-' + p.d;
    return p.y + '-' + p.mo + '-' + p.d + ' ' + p.h + ':' + p.mi;
  }

  /** The date (YYYY-MM-DD) of a time in the daemon's zone. */
  function dateOf(s) {
    var p = zparts(s);
    return p ? p.y + '-' + p.mo + '-' + p.d : '';
  }

  function hms(s) {
    var p = zparts(s);
    return p ? p.h + ':' + p.mi + ':' + p.s : '—';
  }

  /** Offset in minutes of an RFC 3339 string ("+08:00" → 480), or null. */
  function offsetOf(s) {
    var m = /([+-])(\d{2}):?(\d{2})$/.exec(s || '');
    if (!m) return /Z$/.test(s || '') ? 0 : null;
    var v = Number(m[2]) * 60 + Number(m[3]);
    return m[1] === '-' ? -v : v;
  }

  /**
   * A clock in the server's zone that also corrects the local machine's clock: the skew and
   * zone come from the server's own times (hello and pong). Until the first server time it
   * shows the browser's local time.
   */
  var clock = { skew: 0, offset: null };
  /** Takes the server's zone from any of its times until hello brings the clock itself, so
   *  the clock never shows the browser's own zone (a screen whose websocket is blocked
   *  still gets the snapshot over HTTP). */
  function adoptZone(serverTime) {
    if (clock.offset !== null) return;
    var off = offsetOf(serverTime);
    if (off !== null) clock.offset = off;
  }
  function syncClock(serverTime) {
    var t = Date.parse(serverTime || '');
    if (!isFinite(t)) return;
    // Server times carry whole seconds and arrive after some latency: only a clock that is
    // clearly wrong (over 2 s) is corrected, so the display does not jitter by a second.
    var skew = t - Date.now();
    clock.skew = Math.abs(skew) > 2000 ? skew : 0;
    var off = offsetOf(serverTime);
    if (off !== null) clock.offset = off;
  }
  /** {y, mo, d, h, mi, s, wd} of now in the server's zone. */
  function now() {
    var t = Date.now() + clock.skew;
    var d;
    if (clock.offset === null) {
      d = new Date(t);
      return { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(),
        mi: d.getMinutes(), s: d.getSeconds(), wd: d.getDay() };
    }
    d = new Date(t + clock.offset * 60000);
    return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(),
      mi: d.getUTCMinutes(), s: d.getUTCSeconds(), wd: d.getUTCDay() };
  }
  function clockText() {
    var n = now();
    return n.y + '年' + pad(n.mo) + '月' + pad(n.d) + '日 星期' + WEEKDAYS[n.wd] + ' ' +
      pad(n.h) + ':' + pad(n.mi) + ':' + pad(n.s);
  }
  function todayIso() {
    var n = now();
    return n.y + '-' + pad(n.mo) + '-' + pad(n.d);
  }

  /** 数据更新于 text: the time, with the date in front when it is not today. */
  function dataTimeText(s) {
    var p = zparts(s);
    if (!p) return '—';
    var t = p.h + ':' + p.mi + ':' + p.s;
    if (p.y + '-' + p.mo + '-' + p.d !== todayIso()) t = p.mo + '月' + p.d + '日 ' + t;
    return t;
  }

  function stageName(n) { return STAGES[n - 1] || ('第' + n + '阶段'); }
  function gradeFull(g) { return GRADE[g] ? GRADE[g].full : (g || '—'); }
  function statusWord(s) { return STATUS[s] || s || '—'; }
  function pauseWord(k) { return PAUSE_KIND[k] || k || '—'; }
  function categoryWord(c) { return CATEGORY[c] || c || ''; }

  /** "原因" of a grade-history row: the daemon writes "clock" or "feed:<name>". */
  function causeWord(c) {
    if (c === 'clock') return '计时推进';
    if (c === 'calendar') return '节假日安排更新';
    if (c && c.indexOf('feed:') === 0) return '数据更新（' + c.slice(5) + '）';
    return c || '—';
  }

  /** Remaining working days as words: negative is overdue. */
  function remainingText(item) {
    var r = item.remaining;
    if (typeof r !== 'number') return '—';
    if (r < 0) return '超期 ' + int(-r) + ' 个工作日';
    if (item.overdue) return '已超期';
    if (r === 0) return '今日到期';
    return '剩余 ' + int(r) + ' 个工作日';
  }

  /** A grade chip: colour, and always the word beside it. An item the applicant withdrew
   *  (`status`) has no grade to speak of: its chip says so, without a colour. */
  function gradeChip(g, status) {
    if (status === 'withdrawn') return el('span', 'chip chip-none', '已撤回');
    return el('span', 'chip chip-' + (GRADE[g] ? g : 'none'), gradeFull(g));
  }

  /** 暂定 beside a deadline that depends on a year without its holiday notice, with why
   *  (the API's provisional_note) as its tooltip; null when the deadline is official. */
  function provisionalTag(it) {
    // false: official; true: provisional; null: not gradable now (the note says why).
    if (!it || it.provisional === false || !it.provisional_note) return null;
    var t = el('span', 'tag-provisional', '暂定');
    t.title = it.provisional_note || '';
    return t;
  }

  /**
   * Calls fn at most once per `ms`, trailing: a burst of calls becomes one call now (if the
   * last was long enough ago) and one at the end. Holds a single timer, never a queue.
   */
  function throttle(fn, ms) {
    var last = 0;
    var timer = 0;
    function run() {
      timer = 0;
      last = Date.now();
      fn();
    }
    return function () {
      if (timer) return;
      var wait = last + ms - Date.now();
      if (wait <= 0) run();
      else timer = setTimeout(run, wait);
    };
  }

  /** Shows the 令牌无效 message in `box` (replacing its content). */
  function showUnauthorized(box) {
    var panel = el('div', 'notice notice-auth');
    panel.appendChild(el('h2', null, '访问令牌无效'));
    panel.appendChild(el('p', null, '访问令牌缺失、错误或已被停用，无法显示数据。'));
    panel.appendChild(el('p', null, '请向督办办公室索取新的查看链接。'));
    box.replaceChildren(panel);
  }

  /** Shows the stale-feed banner for a message's `feeds` (always complete). */
  /** The data banner: stale feeds (the first two named, with the count, and since when
   *  the oldest last succeeded), and records that wait for a holiday year and so are in
   *  no count. Hidden when all is well. */
  function showFeeds(banner, feeds) {
    if (!banner) return;
    var names = [], since = null, ungraded = 0;
    (feeds || []).forEach(function (f) {
      if (!f) return;
      if (f.stale) {
        names.push(f.name);
        if (f.last_success && (since === null || Date.parse(f.last_success) < Date.parse(since))) since = f.last_success;
      }
      ungraded += Number(f.ungraded) || 0;
    });
    var said = [];
    if (names.length) {
      // Most important first: a narrow banner cuts the end.
      var named = names.length === 1 ? names[0] : names.length + ' 个：' + names[0] + ' 等';
      said.push('数据源异常 ' + named + (since ? '（最近成功 ' + dataTimeText(since) + '）' : '（尚未成功）'));
    }
    if (ungraded) said.push(ungraded + ' 件办件的节假日安排未加载，无法计算期限，未计入统计');
    var text = banner.querySelector('.banner-text') || banner;
    if (said.length) setText(text, said.join('；'));
    banner.hidden = !said.length;
  }

  /** The list an item page goes back to: the dashboard with its filters, or a department's
   *  phone page. Kept per browser tab (no referrer is sent: the token is in the URL). */
  var LIST_KEY = 'duban.list';
  function rememberList() {
    try { sessionStorage.setItem(LIST_KEY, location.pathname + location.search); } catch (e) { /* storage off */ }
  }
  function rememberedList() {
    try { return sessionStorage.getItem(LIST_KEY); } catch (e) { return null; }
  }

  window.Duban = {
    token: token, params: params, GRADE: GRADE, STAGES: STAGES, STATUS: STATUS,
    el: el, setText: setText, int: int, rate: rate, withToken: withToken, api: api,
    parts: parts, zparts: zparts, dateTime: dateTime, dateOf: dateOf, hms: hms, syncClock: syncClock, adoptZone: adoptZone, clockText: clockText,
    todayIso: todayIso, dataTimeText: dataTimeText, stageName: stageName,
    gradeFull: gradeFull, statusWord: statusWord, pauseWord: pauseWord,
    categoryWord: categoryWord, causeWord: causeWord, remainingText: remainingText,
    gradeChip: gradeChip, provisionalTag: provisionalTag, throttle: throttle, showUnauthorized: showUnauthorized,
    showFeeds: showFeeds, pad: pad, rememberList: rememberList, rememberedList: rememberedList
  };
})();
