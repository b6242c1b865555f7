/* duban big-screen (/screen/{name}?token=T).
 *
 * Memory and DOM stay flat for weeks: every panel is built once, the first time a page
 * needs it, and afterwards only its text, its chart (one innerHTML swap per changed chart)
 * and a bounded set of row nodes change. Page rotation only re-templates the grid and
 * toggles `hidden`. Timers: the clock, the carousel, the red-list ticker (one each).
 */
(function () {
  'use strict';

  var D = window.Duban;
  var el = D.el;
  var setText = D.setText;

  var KNOWN = ['headline', 'ring', 'departments', 'stages', 'trend', 'projects', 'red_list',
    'overdue_list', 'warnings', 'ranking'];
  var DEFAULT_PAGE = KNOWN.slice(0, 7);
  // The two item lists: the newest red items, and the red items longest overdue.
  function isList(name) { return name === 'red_list' || name === 'overdue_list'; }
  var TITLES = {
    ring: '三色预警总览',
    departments: '各部门办件情况',
    stages: '四个审批阶段',
    trend: '近30天黄红件趋势',
    projects: '项目"3211"用时',
    red_list: '最新超期件',
    overdue_list: '超期最久件',
    warnings: '今日预警发送',
    ranking: '本月部门排名'
  };
  var GRADES = ['red', 'yellow', 'blue'];   // table column order: worst first
  var RED_MAX = 30;
  // The warnings panel's columns: the states of a message, in the server's panel keys.
  var WARN_COLUMNS = [
    { key: 'sent', word: '已发送' }, { key: 'pending', word: '待发送' },
    { key: 'held', word: '暂缓' }, { key: 'failed', word: '失败' }
  ];
  var WARN_CHANNELS = { sms: '短信', email: '邮件', robot: '群机器人' };
  var TICK_MS = 3500;                        // red list: one row every 3.5 s

  var stage = document.getElementById('stage');
  var grid = document.getElementById('grid');
  var headline = document.getElementById('headline');
  var pager = document.getElementById('pager');
  var clockNode = document.getElementById('clock');
  var dataTimeNode = document.getElementById('data-time');
  var titleNode = document.getElementById('title');
  var staleBanner = document.getElementById('banner-stale');
  var calendarNote = document.getElementById('calendar-note');

  var match = /^\/screen\/([^/]+)/.exec(location.pathname);
  var screenName = match ? decodeURIComponent(match[1]) : 'overview';

  var panels = {};   // name -> {root, render(data)}; built once
  var latest = {};   // name -> the newest panel data (replaced, never accumulated)

  /* ---------- fit the stage to the window ---------- */
  // The stage is 1080 px high and as wide as the wall's shape makes it: 1920 at 16:9 (and
  // narrower shapes, letterboxed), 3840 at 32:9, 5760 at 48:9, up to 7680 at 64:9 (wider
  // ones letterboxed too), so a wide wall shows more columns of panels, not black bars. The
  // shape is the window's, unless the screen's config names its wall's (`aspect`): then the
  // stage is drawn for the wall and stretched to the window, as a wall controller stretches
  // its input onto the wall.
  var STAGE_H = 1080;
  var MIN_W = 1920;
  var MAX_W = 7680;
  var wallAspect = 0;   // width / height from the config, or 0 for the window's
  var across = 3;       // columns of panels (see columnsAcross)
  var stageWidth = 0;   // the stage width laid out for (none yet)

  /** Panels side by side on a stage `width` wide: 3 in the designed 16:9 layouts, and one
   *  more for every 916 px beyond (a panel of 900 and a gap): 4 at 32:9, 6 at 48:9. */
  function columnsAcross(width) { return Math.max(3, Math.floor((width - 48 + 16) / 916)); }

  function fit() {
    var aspect = wallAspect || window.innerWidth / window.innerHeight;
    var w = Math.round(Math.min(MAX_W, Math.max(MIN_W, STAGE_H * aspect)));
    if (!(w > 0)) w = MIN_W;
    var sx = window.innerWidth / w;
    var sy = window.innerHeight / STAGE_H;
    if (!wallAspect) sx = sy = Math.min(sx, sy);
    if (!(sx > 0 && sy > 0)) sx = sy = 1;
    stage.style.transform = 'translate(-50%, -50%) scale(' + sx + ', ' + sy + ')';
    if (w === stageWidth) return;
    stageWidth = w;
    stage.style.width = w + 'px';
    across = columnsAcross(w);
    stage.dataset.across = String(across);
    // Laid out already (this is a resize): the page again, for its new columns and boxes.
    if (stage.dataset.page !== undefined) layout(pages[pageIndex]);
  }
  window.addEventListener('resize', fit);
  fit();

  /* ---------- clock: one timeout at a time, aligned to the next second ---------- */
  function tickClock() {
    setText(clockNode, D.clockText());
    setTimeout(tickClock, 1000 - (Date.now() % 1000) + 15);
  }
  tickClock();

  /* ---------- small builders ---------- */
  function frame(name) {
    var root = el('section', 'panel panel-' + name);
    root.dataset.panel = name;
    root.style.gridArea = name;
    var head = el('div', 'panel-head');
    var title = el('h2', 'panel-title', TITLES[name]);
    var extra = el('div', 'panel-extra');
    head.appendChild(title);
    head.appendChild(extra);
    var body = el('div', 'panel-body');
    root.appendChild(head);
    root.appendChild(body);
    root.hidden = true;
    grid.appendChild(root);
    return { root: root, extra: extra, body: body };
  }

  /** A box for a server-drawn chart. The panel lists the chart's drawings (`svgs`: each
   *  one's URL, which changes with the drawing, and the box it was drawn for); the box shows
   *  the one that fills it best without shrinking it (so its text stays at least the 18 px
   *  it was drawn at), fetched once per new URL and placed inline, so CSS can scale it. A
   *  new layout renders the panel again, and so chooses again for the new box. */
  function chartBox(parent) {
    var node = el('div', 'chart');
    parent.appendChild(node);
    var last = null;
    var inflight = null;
    function place(svg) {
      // The server's SVG is the only markup placed as HTML; anything else is refused.
      var text = svg.replace(/^\s*<\?xml[^>]*\?>\s*/i, '');
      if (!/^<svg[\s>]/i.test(text)) { node.replaceChildren(); return; }
      node.innerHTML = text;
      var s = node.firstElementChild;
      if (!s) return;
      var w = parseFloat(s.getAttribute('width'));
      var h = parseFloat(s.getAttribute('height'));
      if (!s.getAttribute('viewBox') && w > 0 && h > 0) s.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
      s.setAttribute('preserveAspectRatio', 'xMidYMid meet');
      // The drawing's shape, for a tall box to fit its height to it (screen.css).
      if (w > 0 && h > 0) node.style.setProperty('--ratio', w + ' / ' + h);
    }
    var retry = null;
    var delay = 2000;
    function load(url) {
      if (inflight) inflight.abort();
      var ctrl = new AbortController();
      inflight = ctrl;
      fetch(D.withToken(url), { signal: ctrl.signal, credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error('HTTP ' + r.status)); })
        .then(function (svg) {
          if (url === last) { place(svg); delay = 2000; }
        })
        .catch(function () {
          // The chart may not change for hours: try this URL again, backing off to a minute.
          if (url !== last || ctrl.signal.aborted) return;
          clearTimeout(retry);
          retry = setTimeout(function () { if (url === last) load(url); }, delay);
          delay = Math.min(delay * 2, 60000);
        })
        .then(function () { if (inflight === ctrl) inflight = null; });
    }
    /** The drawing for the box as it is now laid out, or null while the box is hidden. */
    function pick(svgs) {
      var w = node.clientWidth;
      var h = node.clientHeight;
      if (!w || !h) return null;
      var best = null;
      var bestKey = null;
      svgs.forEach(function (d) {
        var s = Math.min(w / d.width, h / d.height);
        // Unshrunk drawings first, the one covering most of the box; else the least shrunk.
        var key = s >= 1 ? [1, s * s * d.width * d.height] : [0, s];
        if (!bestKey || key[0] > bestKey[0] || (key[0] === bestKey[0] && key[1] > bestKey[1])) {
          best = d;
          bestKey = key;
        }
      });
      return best;
    }
    return function set(svgs) {
      if (!Array.isArray(svgs) || !svgs.length) return;
      // A hidden box keeps its drawing; one never shown yet fetches the first meanwhile.
      var chosen = pick(svgs) || (last === null ? svgs[0] : null);
      var url = chosen && chosen.url;
      if (typeof url !== 'string' || url === last) return;
      last = url;
      clearTimeout(retry);
      delay = 2000;
      load(url);
    };
  }

  /** "蓝 超前 1,204" — colour, word and count together. */
  function legendItem(grade) {
    var item = el('span', 'legend-item g-' + grade);
    item.appendChild(el('i', 'dot'));
    item.appendChild(el('span', 'word', D.GRADE[grade].full));
    var count = el('span', 'count', '—');
    item.appendChild(count);
    return { node: item, count: count };
  }

  /** Keeps exactly n children in `box`, reusing the existing ones. */
  function sizeRows(box, n, make) {
    while (box.children.length > n) box.removeChild(box.lastChild);
    while (box.children.length < n) box.appendChild(make());
  }

  function num(n) { return typeof n === 'number' ? n : 0; }

  /** Header row of a grade table: 超期 / 正常 / 超前 beside their colours (the word alone:
   *  at 18 px 红 超期 would not fit over a column of counts). first: a narrow leading
   *  column's label, or null for none. */
  function gradeHead(first, second) {
    var head = el('div', 'gt-row gt-head');
    if (first !== null) head.appendChild(el('span', null, first));
    head.appendChild(el('span', null, second));
    GRADES.forEach(function (g) {
      var c = el('span', 'num-col g-' + g);
      c.title = D.GRADE[g].full;
      c.appendChild(el('i', 'dot'));
      c.appendChild(el('span', null, D.GRADE[g].word));
      head.appendChild(c);
    });
    return head;
  }

  /** firstClass: a narrow leading column (the stage number), or null for none. */
  function gradeRow(firstClass) {
    var row = el('div', 'gt-row');
    if (firstClass !== null) row.appendChild(el('span', firstClass));
    row.appendChild(el('span', 'gt-name'));
    GRADES.forEach(function (g) { row.appendChild(el('span', 'gt-num n-' + g)); });
    return row;
  }

  function fillCounts(row, data, from) {
    GRADES.forEach(function (g, i) {
      var cell = row.children[from + i];
      var v = num(data[g]);
      setText(cell, D.int(v));
      cell.classList.toggle('zero', v === 0);
    });
  }

  /* ---------- panels ---------- */
  var builders = {
    ring: function () {
      // The server's ring carries its own small legend; below it the three figures again,
      // large enough to read across the hall.
      var f = frame('ring');
      f.body.classList.add('ring-body');
      var setSvg = chartBox(f.body);
      var figs = el('div', 'ring-figures');
      var rows = {};
      ['blue', 'yellow', 'red'].forEach(function (g) {
        var cell = el('div', 'ring-cell g-' + g);
        var word = el('div', 'word');
        word.appendChild(el('i', 'dot'));
        word.appendChild(el('span', null, D.GRADE[g].full));
        cell.appendChild(word);
        var count = el('div', 'count', '—');
        cell.appendChild(count);
        var share = el('div', 'share', '');
        cell.appendChild(share);
        figs.appendChild(cell);
        rows[g] = { count: count, share: share };
      });
      f.body.appendChild(figs);
      return {
        root: f.root,
        render: function (d) {
          setSvg(d.svgs);
          var sum = num(d.blue) + num(d.yellow) + num(d.red);
          ['blue', 'yellow', 'red'].forEach(function (g) {
            setText(rows[g].count, D.int(num(d[g])));
            setText(rows[g].share, sum ? '占 ' + (num(d[g]) * 100 / sum).toFixed(1) + '%' : '占 —');
          });
          f.extra.replaceChildren('合计 ', el('b', null, D.int(sum)), ' 件 · 超期 ',
            el('b', null, D.int(num(d.overdue))), ' 件');
        }
      };
    },

    departments: function () {
      var f = frame('departments');
      f.body.classList.add('dep-body');
      var setSvg = chartBox(f.body);
      var table = el('div', 'gtable');
      table.appendChild(gradeHead(null, '部门'));
      var rowsBox = el('div', 'gt-rows');
      rowsBox.style.cssText = 'display:flex;flex-direction:column;flex:1;min-height:0';
      table.appendChild(rowsBox);
      f.body.appendChild(table);
      return {
        root: f.root,
        render: function (d) {
          setSvg(d.svgs);
          var all = Array.isArray(d.rows) ? d.rows : [];
          // Rows shrink to fit; a city with many departments shows the worst that stay
          // readable (rows come sorted by red, then yellow).
          var room = rowsBox.clientHeight ? Math.max(1, Math.floor(rowsBox.clientHeight / 20)) : all.length;
          var rows = all.slice(0, room);
          sizeRows(rowsBox, rows.length, function () { return gradeRow(null); });
          rows.forEach(function (r, i) {
            var row = rowsBox.children[i];
            setText(row.children[0], r.name);
            row.children[0].title = r.name || '';
            row.classList.toggle('worst', i < 3 && num(r.red) > 0);
            fillCounts(row, r, 1);
          });
          var red = 0;
          all.forEach(function (r) { if (num(r.red) > 0) red += 1; });
          f.extra.replaceChildren('共 ', el('b', null, all.length), ' 个部门 · 有超期件 ',
            el('b', null, red), ' 个');
        }
      };
    },

    stages: function () {
      var f = frame('stages');
      f.body.classList.add('stage-body');
      var setSvg = chartBox(f.body);
      var table = el('div', 'gtable');
      table.appendChild(gradeHead('', '阶段'));
      var rowsBox = el('div', 'gt-rows');
      rowsBox.style.cssText = 'display:flex;flex-direction:column';
      table.appendChild(rowsBox);
      f.body.appendChild(table);
      return {
        root: f.root,
        render: function (d) {
          setSvg(d.svgs);
          var rows = Array.isArray(d.rows) ? d.rows.slice(0, 8) : [];
          sizeRows(rowsBox, rows.length, function () { return gradeRow('gt-rank'); });
          rows.forEach(function (r, i) {
            var row = rowsBox.children[i];
            setText(row.children[0], r.stage);
            var name = r.name || D.stageName(r.stage);
            setText(row.children[1], name);
            row.children[1].title = name;
            fillCounts(row, r, 2);
          });
        }
      };
    },

    trend: function () {
      var f = frame('trend');
      f.body.classList.add('trend-body');
      var setSvg = chartBox(f.body);
      var legend = el('div', 'legend');
      var label = el('span', 'legend-item', '今日');
      var y = legendItem('yellow');
      var r = legendItem('red');
      var peak = el('span', 'legend-item');
      var peakNote = el('span', 'note');
      peak.appendChild(peakNote);
      legend.appendChild(label);
      legend.appendChild(y.node);
      legend.appendChild(r.node);
      legend.appendChild(peak);
      f.body.appendChild(legend);
      return {
        root: f.root,
        render: function (d) {
          setSvg(d.svgs);
          var days = Array.isArray(d.days) ? d.days : [];
          var last = days.length ? days[days.length - 1] : null;
          setText(y.count, last ? D.int(num(last.yellow)) : '—');
          setText(r.count, last ? D.int(num(last.red)) : '—');
          var max = 0;
          days.forEach(function (x) { if (num(x.red) > max) max = num(x.red); });
          setText(peakNote, days.length ? '30天内红件最多 ' + D.int(max) + ' 件' : '');
          if (days.length) {
            var a = D.parts(days[0].date);
            var b = D.parts(last.date);
            setText(f.extra, a && b ? a.mo + '-' + a.d + ' 至 ' + b.mo + '-' + b.d : '');
          } else {
            setText(f.extra, '');
          }
        }
      };
    },

    projects: function () {
      var f = frame('projects');
      f.body.classList.add('proj-body');
      var setSvg = chartBox(f.body);
      var table = el('div', 'gtable');
      var head = el('div', 'gt-row gt-head');
      head.appendChild(el('span', null, '项目'));
      var h2 = el('span', null, '用时/目标');
      h2.style.textAlign = 'right';
      head.appendChild(h2);
      var h3 = el('span', null, '等级');
      h3.style.textAlign = 'right';
      head.appendChild(h3);
      table.appendChild(head);
      var rowsBox = el('div', 'gt-rows');
      rowsBox.style.cssText = 'display:flex;flex-direction:column;flex:1;min-height:0';
      table.appendChild(rowsBox);
      f.body.appendChild(table);
      var empty = el('div', 'empty', '暂无在办项目');
      empty.hidden = true;
      f.body.appendChild(empty);
      function makeRow() {
        var row = el('div', 'gt-row');
        var name = el('span', 'proj-name');
        name.appendChild(el('span', 'nm'));
        name.appendChild(el('span', 'cat'));
        row.appendChild(name);
        var days = el('span', 'proj-days');
        days.appendChild(el('b'));
        days.appendChild(el('span'));
        row.appendChild(days);
        row.appendChild(el('span', 'gchip'));
        return row;
      }
      return {
        root: f.root,
        render: function (d) {
          setSvg(d.svgs);
          var rows = Array.isArray(d.rows) ? d.rows.slice(0, 10) : [];
          sizeRows(rowsBox, rows.length, makeRow);
          rows.forEach(function (p, i) {
            var row = rowsBox.children[i];
            var nm = row.children[0].children[0];
            setText(nm, p.name || p.code);
            nm.title = (p.name || '') + ' ' + (p.code || '');
            setText(row.children[0].children[1], D.categoryWord(p.category));
            setText(row.children[1].children[0], D.int(p.government_days));
            setText(row.children[1].children[1], ' / ' + D.int(p.target_days));
            var chip = row.children[2];
            chip.className = 'gchip g-' + (D.GRADE[p.grade] ? p.grade : 'none');
            setText(chip, D.gradeFull(p.grade));
          });
          setText(f.extra, rows.length ? '政府用时占目标比例最高的 ' + rows.length + ' 个 · 单位：工作日' : '');
          empty.hidden = rows.length > 0;
          table.hidden = rows.length === 0;
          f.body.classList.toggle('is-empty', rows.length === 0);
        }
      };
    },

    warnings: function () {
      // Today's messages by channel (counted by the server from the outbox), then the
      // escalations and the answered share (回告率) as two large figures.
      var f = frame('warnings');
      f.body.classList.add('warn-body');
      var table = el('div', 'gtable');
      var head = el('div', 'gt-row gt-head');
      head.appendChild(el('span', null, '渠道'));
      WARN_COLUMNS.forEach(function (c) { head.appendChild(el('span', 'num-col', c.word)); });
      table.appendChild(head);
      var rowsBox = el('div', 'gt-rows');
      table.appendChild(rowsBox);
      f.body.appendChild(table);
      var figs = el('div', 'warn-figures');
      function figure(cls, label) {
        var cell = el('div', 'warn-cell ' + cls);
        cell.appendChild(el('div', 'word', label));
        var count = el('div', 'count', '—');
        cell.appendChild(count);
        var sub = el('div', 'sub', '');
        cell.appendChild(sub);
        figs.appendChild(cell);
        return { count: count, sub: sub };
      }
      var escalations = figure('warn-escalations', '督办单及升级');
      var answered = figure('warn-answered', '回告率');
      f.body.appendChild(figs);
      function makeRow() {
        var row = el('div', 'gt-row');
        row.appendChild(el('span', 'gt-name'));
        WARN_COLUMNS.forEach(function (c) { row.appendChild(el('span', 'gt-num w-' + c.key)); });
        return row;
      }
      return {
        root: f.root,
        render: function (d) {
          var rows = Array.isArray(d.channels) ? d.channels : [];
          sizeRows(rowsBox, rows.length, makeRow);
          var total = 0;
          rows.forEach(function (r, i) {
            var row = rowsBox.children[i];
            row.dataset.channel = r.channel;
            setText(row.children[0], WARN_CHANNELS[r.channel] || r.channel);
            WARN_COLUMNS.forEach(function (c, j) {
              var v = num(r[c.key]);
              total += v;
              setText(row.children[j + 1], D.int(v));
              row.children[j + 1].classList.toggle('zero', v === 0);
            });
          });
          f.extra.replaceChildren('合计 ', el('b', null, D.int(total)), ' 条');
          setText(escalations.count, D.int(num(d.escalations)) + ' 条');
          setText(escalations.sub, '涉及 ' + D.int(num(d.escalated_items)) + ' 件办件');
          setText(answered.count, D.rate(d.answered_rate));
          setText(answered.sub, '已回告 ' + D.int(num(d.answered_items)) + ' / 预警 ' +
            D.int(num(d.warned_items)) + ' 件');
        }
      };
    },

    ranking: function () {
      // This month's ranking so far, computed by the server every few minutes (not per
      // change): the panel says so, with the time its figures are from.
      var f = frame('ranking');
      f.body.classList.add('warn-body');
      var table = el('div', 'gtable');
      var head = el('div', 'gt-row gt-head');
      ['名次', '部门', '得分', '按时率', '超期日'].forEach(function (t, i) {
        head.appendChild(el('span', i >= 2 ? 'num-col' : null, t));
      });
      table.appendChild(head);
      var rowsBox = el('div', 'gt-rows');
      table.appendChild(rowsBox);
      f.body.appendChild(table);
      function makeRow() {
        var row = el('div', 'gt-row');
        row.appendChild(el('span', 'gt-num'));
        row.appendChild(el('span', 'gt-name'));
        row.appendChild(el('span', 'gt-num'));
        row.appendChild(el('span', 'gt-num'));
        row.appendChild(el('span', 'gt-num'));
        return row;
      }
      return {
        root: f.root,
        render: function (d) {
          var rows = Array.isArray(d.rows) ? d.rows : [];
          sizeRows(rowsBox, rows.length, makeRow);
          rows.forEach(function (r, i) {
            var row = rowsBox.children[i];
            row.dataset.department = r.department;
            setText(row.children[0], r.place === null ? '—' : String(r.place));
            setText(row.children[1], r.department);
            setText(row.children[2], typeof r.score === 'number' ? r.score.toFixed(1) : '—');
            setText(row.children[3], D.rate(r.on_time_rate));
            setText(row.children[4], D.int(num(r.overdue_days)));
          });
          f.extra.replaceChildren((d.so_far ? '截至目前 · ' : '') + D.dataTimeText(d.data_time));
        }
      };
    },

    red_list: function () { return itemList('red_list'); },
    overdue_list: function () { return itemList('overdue_list'); }
  };

  /** A list of red items (department, project, matter, working days over) that ticks up
   *  when it is longer than its panel; `red_list` marks the items red since today. */
  function itemList(name) {
    var newest = name === 'red_list';
    var f = frame(name);
    f.body.classList.add('red-body');
    var head = el('div', 'rl-row rl-head');
    ['部门', '项目', '事项', '超期(工作日)'].forEach(function (t, i) {
      var c = el('span', null, t);
      if (i === 3) c.style.textAlign = 'right';
      head.appendChild(c);
    });
    var view = el('div', 'rl-view');
    var track = el('div', 'rl-track');
    view.appendChild(track);
    var empty = el('div', 'empty', '暂无超期件');
    empty.hidden = true;
    f.body.appendChild(head);
    f.body.appendChild(view);
    f.body.appendChild(empty);

    // Step ticker: rows[i] shows data[(i + k) % n]. A tick slides the track up one row;
    // the next tick first re-renders with k + 1 and snaps back (identical picture), so
    // the node count stays n and nothing depends on transitionend (which a throttled
    // tab may never deliver).
    var data = [];
    var k = 0;
    var shifted = false;
    var today = '';

    function makeRow() {
      var row = el('div', 'rl-row');
      var dept = el('span', 'rl-dept');
      row.appendChild(dept);
      var proj = el('span', 'rl-proj');
      proj.appendChild(el('span', 'rl-new', '新'));
      // Before the name, which an ellipsis may cut: 已回告 (its department answered).
      proj.appendChild(el('span', 'rl-answered', '已回告'));
      proj.appendChild(el('span'));
      row.appendChild(proj);
      row.appendChild(el('span', 'rl-matter'));
      var days = el('span', 'rl-days');
      days.appendChild(el('b'));
      row.appendChild(days);
      return row;
    }
    function paint() {
      var n = data.length;
      for (var i = 0; i < n; i++) {
        var r = data[(i + k) % n];
        var row = track.children[i];
        setText(row.children[0], r.department);
        row.children[0].title = r.department || '';
        var isNew = newest && !!r.red_since && D.dateOf(r.red_since) === today;
        row.children[1].children[0].hidden = !isNew;
        row.children[1].children[1].hidden = !r.answered;
        setText(row.children[1].children[2], r.project_name);
        row.children[1].title = r.project_name || '';
        setText(row.children[2], r.matter);
        row.children[2].title = r.matter || '';
        setText(row.children[3].children[0], D.int(r.days_over));
      }
    }
    function snapBack() {
      track.style.transition = 'none';
      track.style.transform = '';
      void track.offsetHeight;   // commit the snap before the transition comes back
      track.style.transition = '';
      shifted = false;
    }
    function tick() {
      var n = data.length;
      if (!n || f.root.hidden) return;
      if (shifted) {
        k = (k + 1) % n;
        paint();
        snapBack();
      }
      var overflow = track.offsetHeight > view.clientHeight + 1;
      view.classList.toggle('ticking', overflow);
      if (!overflow) {
        if (k !== 0) { k = 0; paint(); }
        return;               // everything fits: no need to scroll
      }
      var h = track.firstElementChild ? track.firstElementChild.offsetHeight : 0;
      if (!h) return;
      track.style.transform = 'translateY(' + (-h) + 'px)';
      shifted = true;
    }
    setInterval(tick, TICK_MS);

    return {
      root: f.root,
      render: function (d) {
        var rows = Array.isArray(d.rows) ? d.rows : [];
        data = rows.slice(0, RED_MAX);
        today = D.todayIso();
        if (shifted) snapBack();
        k = data.length ? k % data.length : 0;
        sizeRows(track, data.length, makeRow);
        paint();
        empty.hidden = data.length > 0;
        view.hidden = data.length === 0;
        view.classList.toggle('ticking', track.offsetHeight > view.clientHeight + 1);
        if (newest) f.extra.replaceChildren('最新 ', el('b', null, data.length), ' 件');
        else f.extra.replaceChildren('最久 ', el('b', null, data.length ? D.int(data[0].days_over) : 0), ' 个工作日');
      }
    };
  }

  function ensurePanel(name) {
    if (!panels[name] && builders[name]) {
      panels[name] = builders[name]();
      if (latest[name]) panels[name].render(latest[name]);
    }
    return panels[name];
  }

  /* ---------- headline ---------- */
  var headFields = {};
  Array.prototype.forEach.call(headline.querySelectorAll('[data-field]'), function (n) {
    headFields[n.dataset.field] = n;
  });
  function renderHeadline(d) {
    ['pending', 'overdue', 'finished_today', 'paused', 'finished_this_month'].forEach(function (k) {
      if (headFields[k]) setText(headFields[k], D.int(d[k]));
    });
    setText(headFields.on_time_rate, D.rate(d.on_time_rate));
    // Provisional deadlines, or next year's missing holiday file: one line, from the server.
    setText(calendarNote, d.calendar || '');
    calendarNote.hidden = !d.calendar;
  }

  /* ---------- layout of one page ---------- */
  // Column weights for one-row layouts: wide charts get more room.
  var WEIGHT = { ring: 0.85, stages: 0.95, trend: 1, projects: 1.25, departments: 1.45, red_list: 1.15,
    overdue_list: 1.15, warnings: 0.9, ranking: 0.95 };
  // On a wide wall's two rows, the panels that take both first: long lists, then charts
  // with a table beside them.
  var TALL = ['red_list', 'overdue_list', 'departments', 'projects', 'trend', 'stages', 'ring',
    'warnings', 'ranking'];

  function layout(page) {
    var names = [];
    (Array.isArray(page) ? page : DEFAULT_PAGE).forEach(function (n) {
      if (KNOWN.indexOf(n) >= 0 && names.indexOf(n) < 0) names.push(n);
    });
    var showHeadline = names.indexOf('headline') >= 0;
    var rest = names.filter(function (n) { return n !== 'headline'; });
    // A list reads best at the right edge, where a tall column fits it.
    var list = rest.filter(isList)[0];
    if (list && rest.length !== 6) {
      rest.splice(rest.indexOf(list), 1);
      rest.push(list);
    }
    var cols;
    var rowsTpl;
    var areas;
    var n = rest.length;
    function weights(list) {
      return list.map(function (x) { return 'minmax(0, ' + (WEIGHT[x] || 1) + 'fr)'; }).join(' ');
    }
    var designed = ['ring', 'departments', 'stages', 'projects', 'trend'].every(function (x) {
      return rest.indexOf(x) >= 0;
    });
    if (across > 3 && n > across) {
      // A wide wall: two rows of `across` columns. The tall panels (the lists first, then
      // the departments, then …) span both rows, the others are paired one above the
      // other, so every column is full; the lists at the right edge.
      var talls = rest.slice().sort(function (a, b) { return TALL.indexOf(a) - TALL.indexOf(b); })
        .slice(0, 2 * across - n);
      var columns = [];
      var pair = null;   // a column with its upper panel, waiting for the lower
      rest.filter(function (x) { return !isList(x); }).concat(rest.filter(isList)).forEach(function (x) {
        if (talls.indexOf(x) >= 0) {
          columns.push([x, x]);
        } else if (pair) {
          pair.push(x);
          pair = null;
        } else {
          pair = [x];
          columns.push(pair);
        }
      });
      cols = columns.map(function () { return 'minmax(0, 1fr)'; }).join(' ');
      rowsTpl = 'minmax(0, 1fr) minmax(0, 1fr)';
      areas = '"' + columns.map(function (c) { return c[0]; }).join(' ') + '" "' +
        columns.map(function (c) { return c[1]; }).join(' ') + '"';
    } else if (n <= across) {
      // One row: up to three at 16:9, all of them across a wide wall.
      cols = n ? weights(rest) : '1fr';
      rowsTpl = 'minmax(0, 1fr)';
      areas = n ? '"' + rest.join(' ') + '"' : 'none';
    } else if (n === 6 && designed && list) {
      // The designed command-centre page (any order of the six).
      cols = '440px minmax(0, 1fr) 610px';
      rowsTpl = 'minmax(0, 1fr) minmax(0, 1fr)';
      areas = '"ring departments ' + list + '" "stages projects trend"';
    } else if (n === 4) {
      cols = 'minmax(0, 1fr) minmax(0, 1fr)';
      rowsTpl = 'minmax(0, 1fr) minmax(0, 1fr)';
      areas = '"' + rest[0] + ' ' + rest[1] + '" "' + rest[2] + ' ' + rest[3] + '"';
    } else if (n === 5) {
      // five: the last (red list or departments when present) spans both rows at the right
      var tall = list || (rest.indexOf('departments') >= 0 ? 'departments' : rest[4]);
      var others = rest.filter(function (x) { return x !== tall; });
      cols = 'minmax(0, 1fr) minmax(0, 1fr) minmax(0, 1.15fr)';
      rowsTpl = 'minmax(0, 1fr) minmax(0, 1fr)';
      areas = '"' + others[0] + ' ' + others[1] + ' ' + tall + '" "' +
        others[2] + ' ' + others[3] + ' ' + tall + '"';
    } else {
      // Six or more in another mix: two rows; with an odd count the last (a list, when
      // there is one) spans both at the right.
      var upper = Math.ceil(n / 2);
      var top = rest.slice(0, n % 2 ? upper - 1 : upper);
      var bottom = rest.slice(top.length, n % 2 ? n - 1 : n);
      if (n % 2) { top.push(rest[n - 1]); bottom.push(rest[n - 1]); }
      cols = weights(top);
      rowsTpl = 'minmax(0, 1fr) minmax(0, 1fr)';
      areas = '"' + top.join(' ') + '" "' + bottom.join(' ') + '"';
    }
    rest.forEach(ensurePanel);
    grid.style.gridTemplateColumns = cols;
    grid.style.gridTemplateRows = rowsTpl;
    grid.style.gridTemplateAreas = areas;
    Object.keys(panels).forEach(function (name) {
      panels[name].root.hidden = rest.indexOf(name) < 0;
    });
    headline.hidden = !showHeadline;
    stage.dataset.page = names.join(',');
    rest.forEach(function (name) {
      if (latest[name]) panels[name].render(latest[name]);
    });
  }

  /* ---------- carousel ---------- */
  var pages = [DEFAULT_PAGE];
  var pageIndex = 0;
  var rotateTimer = 0;
  var configKey = '';

  function showPage(i, animate) {
    pageIndex = i;
    layout(pages[i]);
    Array.prototype.forEach.call(pager.children, function (dot, j) {
      dot.classList.toggle('on', j === i);
    });
    stage.dataset.pageIndex = String(i);
    if (animate && grid.animate) {
      grid.animate([{ opacity: 0, transform: 'translateY(12px)' }, { opacity: 1, transform: 'none' }],
        { duration: 700, easing: 'ease-out' });
    }
  }

  function configure(screen) {
    var list = screen && Array.isArray(screen.pages) && screen.pages.length ? screen.pages : [DEFAULT_PAGE];
    var rotate = screen && screen.rotate_seconds > 0 ? screen.rotate_seconds : 0;
    // The wall's shape, [width, height] (e.g. [32, 9]), when the config names it.
    var shape = screen && Array.isArray(screen.aspect) ? screen.aspect : null;
    var key = JSON.stringify([list, rotate, shape]);
    if (key === configKey) return;   // a reconnect with the same config keeps the page and timer
    configKey = key;
    pages = list;
    if (pageIndex >= pages.length) pageIndex = 0;
    wallAspect = shape && shape[0] > 0 && shape[1] > 0 ? shape[0] / shape[1] : 0;
    fit();
    clearInterval(rotateTimer);
    rotateTimer = 0;
    pager.replaceChildren();
    if (pages.length > 1) {
      pages.forEach(function () { pager.appendChild(el('i')); });
    }
    showPage(pageIndex, false);
    if (rotate > 0 && pages.length > 1) {
      rotateTimer = setInterval(function () {
        showPage((pageIndex + 1) % pages.length, true);
      }, rotate * 1000);
    }
  }

  /* ---------- live data ---------- */
  function onHello(msg) {
    var screen = msg.screen || null;
    if (screen && screen.title) {
      setText(titleNode, screen.title);
      document.title = screen.title + ' · 大屏';
    }
    configure(screen);
  }

  function onData(msg, isSnapshot) {
    var incoming = msg.panels || {};
    if (isSnapshot) latest = {};
    Object.keys(incoming).forEach(function (name) {
      if (KNOWN.indexOf(name) < 0 || !incoming[name]) return;
      latest[name] = incoming[name];
      if (name === 'headline') renderHeadline(incoming[name]);
      else if (panels[name]) panels[name].render(incoming[name]);
    });
    setText(dataTimeNode, D.dataTimeText(msg.data_time));
    D.showFeeds(staleBanner, msg.feeds);
  }

  configure(null);
  DubanLive.connect({ screen: screenName, onHello: onHello, onData: onData });
})();
