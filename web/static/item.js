/* duban item page (/item/{item_id}?token=T): GET /api/items/{id}, refreshed (at most once
 * a second) after every applied websocket message, since the clock figures move. */
(function () {
  'use strict';

  var D = window.Duban;
  var el = D.el;
  var setText = D.setText;

  var match = /^\/item\/([^/]+)/.exec(location.pathname);
  var itemId = match ? decodeURIComponent(match[1]) : '';
  var main = document.getElementById('main');
  var box = document.getElementById('item');
  var message = document.getElementById('message');
  function $(id) { return document.getElementById(id); }

  // Back to the list the item was opened from in this tab, filters and all.
  var list = D.rememberedList();
  $('back').href = list || D.withToken('/');
  if (list && list.indexOf('/m/dept/') === 0) $('back').textContent = '← 返回部门办件';
  if (list && list.indexOf('/ledger') === 0) $('back').textContent = '← 返回电子台账';

  var inflight = null;
  var stopped = false;

  function notice(title, text, cls) {
    var n = el('div', 'notice ' + (cls || 'notice-error'));
    n.appendChild(el('h2', null, title));
    n.appendChild(el('p', null, text));
    message.replaceChildren(n);
  }

  function load() {
    if (stopped || !itemId) return;
    if (inflight) inflight.abort();
    var ctrl = new AbortController();
    inflight = ctrl;
    D.api('/api/items/' + encodeURIComponent(itemId), null, ctrl.signal).then(function (it) {
      if (inflight !== ctrl) return;
      inflight = null;
      message.replaceChildren();
      render(it);
      box.hidden = false;
      document.body.dataset.loaded = 'ready';
    }).catch(function (err) {
      if (err.name === 'AbortError' || inflight !== ctrl) return;
      inflight = null;
      if (err.status === 401) {
        stopped = true;
        D.showUnauthorized(main);
        document.body.dataset.loaded = 'unauthorized';
        if (live) live.unauthorized();
      } else if (err.status === 404) {
        box.hidden = true;
        notice('未找到该办件', '办件编号 ' + itemId + ' 不存在，或已不在督办范围内。');
        document.body.dataset.loaded = 'not-found';
      } else {
        notice('加载失败', err.message + '（数据更新时将自动重试）');
        document.body.dataset.loaded = 'error';
      }
    });
  }
  var refresh = D.throttle(load, 1000);

  function render(it) {
    document.title = it.matter + ' · 办件详情';
    setText($('item-matter'), it.matter);
    setText($('item-project'), it.project_name || '（未命名项目）');
    setText($('item-project-code'), it.project_code);
    setText($('item-department'), it.department);
    setText($('item-stage'), '第' + it.stage + '阶段 ' + D.stageName(it.stage));
    $('item-grade').replaceChildren(D.gradeChip(it.grade, it.status));
    setText($('item-status'), D.statusWord(it.status) + (it.paused && it.status !== 'paused' ? ' · 暂停计时' : ''));
    setText($('item-id'), '办件编号 ' + it.item_id);

    setText($('deadline'), it.deadline_date || '—');
    var tag = D.provisionalTag(it);
    $('deadline-provisional').replaceChildren.apply($('deadline-provisional'), tag ? [tag] : []);
    var note = $('provisional-note');
    var said = it.provisional !== false && !!it.provisional_note;
    note.hidden = !said;
    setText(note, said ? it.provisional_note : '');
    setText($('used-allowed'), D.int(it.used) + ' / ' + D.int(it.allowed));
    var rem = $('remaining');
    var open = it.status === 'pending' || it.status === 'paused';
    setText(rem, open ? D.remainingText(it)
      : it.status === 'withdrawn' ? '已撤回（未办结）'
      : (it.remaining < 0 ? '超期 ' + D.int(-it.remaining) + ' 个工作日办结' : '按时办结'));
    var late = it.status !== 'withdrawn' && (it.remaining < 0 || it.overdue);
    rem.className = 'v' + (late ? ' late' : it.remaining === 0 && open ? ' due' : '');
    setText($('next-change'), it.next_change ? D.dateTime(it.next_change) : (it.paused ? '暂停期间不变' : '—'));
    setText($('accepted'), D.dateTime(it.accepted_at));
    setText($('finished'), it.finished_at ? D.dateTime(it.finished_at) : '—');
    setText($('limits'), D.int(it.limit_days) + ' / ' + D.int(it.legal_days) + ' / ' + D.int(it.extension_days));
    setText($('source'), (it.feed_title || it.feed || '—') + ' · ' + D.dateTime(it.updated_at));

    // used of allowed, as a bar in the grade's colour (the grade word is in the chip above)
    var share = it.allowed > 0 ? Math.min(1, it.used / it.allowed) : (it.used > 0 ? 1 : 0);
    var fill = $('meter-fill');
    fill.style.width = (share * 100).toFixed(1) + '%';
    fill.className = 'meter-fill g-' + it.grade;
    setText($('meter-left'), '已用 ' + D.int(it.used) + ' 个工作日（' + D.gradeFull(it.grade) + '）');
    setText($('meter-right'), '允许 ' + D.int(it.allowed) + ' 个工作日');

    var pauses = Array.isArray(it.pauses) ? it.pauses : [];
    var prow = pauses.map(function (p) {
      var tr = el('tr');
      tr.appendChild(el('td', null, D.pauseWord(p.kind)));
      tr.appendChild(el('td', 'num', D.dateTime(p.from)));
      tr.appendChild(el('td', p.to ? 'num' : 'due', p.to ? D.dateTime(p.to) : '进行中'));
      return tr;
    });
    if (!prow.length) prow.push(emptyRow(3, '没有暂停计时'));
    $('pauses').tBodies[0].replaceChildren.apply($('pauses').tBodies[0], prow);
    setText($('pause-count'), pauses.length ? pauses.length + ' 次' : '');

    // Grade changes and the deadlines the calendar moved, newest first: what changed last
    // matters most. (Stable: at the same instant the recorded order is kept.)
    var history = (Array.isArray(it.history) ? it.history : []).concat(
      (Array.isArray(it.deadline_changes) ? it.deadline_changes : []).map(function (c) {
        return { at: c.at, deadline: c.deadline, was: c.previous, cause: c.cause };
      }));
    history.sort(function (a, b) { return Date.parse(a.at) - Date.parse(b.at); });
    var hrow = history.slice().reverse().map(function (h) {
      var tr = el('tr');
      tr.appendChild(el('td', 'num', D.dateTime(h.at)));
      if (h.deadline) {
        tr.appendChild(el('td', 'num', '截止日改为 ' + h.deadline));
        tr.appendChild(el('td', 'num', '原 ' + h.was));
        tr.appendChild(el('td', null, D.causeWord(h.cause)));
        return tr;
      }
      var g = el('td');
      g.appendChild(D.gradeChip(h.grade));
      tr.appendChild(g);
      var p = el('td');
      if (h.previous) p.appendChild(D.gradeChip(h.previous)); else p.textContent = '—（首次）';
      tr.appendChild(p);
      tr.appendChild(el('td', null, D.causeWord(h.cause)));
      return tr;
    });
    if (!hrow.length) hrow.push(emptyRow(4, '没有等级变化记录'));
    $('history').tBodies[0].replaceChildren.apply($('history').tBodies[0], hrow);
    setText($('history-count'), history.length ? history.length + ' 次' : '');
    renderVersions(it);
    renderAnswers(it);
    renderWarnings(it);
  }

  var RULE = { near: '临期预警', overdue: '超期预警', digest: '超期日报', forecast: '超期预报' };
  var CHANNEL = { sms: '短信', email: '邮件', robot: '群机器人' };
  var ROLE = { handler: '经办人', head: '负责人', office: '督办办公室', steward: '项目管家', leader: '分管领导' };
  var SENT = { pending: '待发送', sent: '已发送', delivered: '已送达', undelivered: '未送达', failed: '发送失败' };
  function ruleWord(r) {
    var m = /^escalation-(\d+)$/.exec(r || '');
    if (m) return m[1] === '1' ? '督办单' : '督办升级（第' + m[1] + '级）';
    return RULE[r] || r || '—';
  }

  /** The department's answers (回告) and the office's silences, newest first. */
  function renderAnswers(it) {
    var answers = (Array.isArray(it.answers) ? it.answers : []).slice().reverse();
    var rows = answers.map(function (a) {
      var tr = el('tr');
      tr.appendChild(el('td', null, a.kind === 'silence' ? '暂停预警' : '回告'));
      tr.appendChild(el('td', 'num', a.until));
      tr.appendChild(el('td', 'changes', a.reason));
      tr.appendChild(el('td', null, a.by_whom === 'office' ? '督办办公室' : a.by_whom));
      tr.appendChild(el('td', 'num', D.dateTime(a.at)));
      return tr;
    });
    if (!rows.length) rows.push(emptyRow(5, '没有回告或暂停预警'));
    $('answers').tBodies[0].replaceChildren.apply($('answers').tBodies[0], rows);
    setText($('answer-count'), answers.length ? answers.length + ' 条' : '');
  }

  /** The messages that named the item, newest first (the delivery audit has the rest). */
  function renderWarnings(it) {
    var warnings = (Array.isArray(it.warnings) ? it.warnings : []).slice().reverse();
    var rows = warnings.map(function (w) {
      var tr = el('tr');
      tr.appendChild(el('td', 'num', D.dateTime(w.created_at)));
      tr.appendChild(el('td', null, ruleWord(w.rule)));
      tr.appendChild(el('td', null, CHANNEL[w.channel] || w.channel));
      tr.appendChild(el('td', null, ROLE[w.role] || w.role));
      tr.appendChild(el('td', null, SENT[w.status] || w.status));
      tr.appendChild(el('td', 'num', w.sent_at ? D.dateTime(w.sent_at) : '—'));
      return tr;
    });
    if (!rows.length) rows.push(emptyRow(6, '没有预警记录'));
    $('warnings').tBodies[0].replaceChildren.apply($('warnings').tBodies[0], rows);
    setText($('warning-count'), warnings.length ? warnings.length + ' 条' : '');
  }

  // The record's fields as the page names them (the canonical record, ARCHITECTURE.md).
  var FIELD = {
    item_id: '办件编号', project_code: '项目代码', project_name: '项目名称',
    project_category: '项目类别', matter: '事项', department: '部门', stage: '审批阶段',
    status: '办件状态', accepted_at: '受理时间', limit_days: '承诺时限（工作日）',
    legal_days: '法定时限（工作日）', extension_days: '延长（工作日）', pauses: '暂停计时',
    finished_at: '办结时间', updated_at: '更新时间'
  };

  /** A field's value in words: times in the daemon's zone, codes as the pages say them. */
  function valueText(field, v) {
    if (v === null || v === undefined || v === '') return '—';
    if (field === 'status') return D.statusWord(v);
    if (field === 'stage') return v + ' ' + D.stageName(v);
    if (field === 'project_category') return D.categoryWord(v) || v;
    if (field === 'pauses') {
      if (!Array.isArray(v) || !v.length) return '无';
      return v.map(function (p) {
        return D.pauseWord(p.kind) + ' ' + D.dateTime(p.from) + (p.to ? ' 至 ' + D.dateTime(p.to) : ' 起（进行中）');
      }).join('；');
    }
    if (/_at$/.test(field)) return D.dateTime(v);
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }

  /** The record's versions, newest first: each with when it took effect and was seen, from
   *  which feed, and what changed field by field (the first: that it came). updated_at
   *  changes with every version and is the 生效时间 already, so it is not listed again. */
  function renderVersions(it) {
    var versions = (Array.isArray(it.versions) ? it.versions : []).slice().reverse();
    var rows = versions.map(function (v) {
      var tr = el('tr');
      tr.dataset.version = v.version;
      tr.appendChild(el('td', 'num', '版本 ' + v.version));
      tr.appendChild(el('td', 'num', D.dateTime(v.at)));
      tr.appendChild(el('td', 'num', D.dateTime(v.seen_at)));
      tr.appendChild(el('td', null, v.feed || '—'));
      var what = el('td', 'changes');
      if (v === versions[versions.length - 1]) {
        what.textContent = '首次收到该办件的记录';
      } else {
        (v.changes || []).filter(function (c) { return c.field !== 'updated_at'; }).forEach(function (c) {
          var line = el('div', 'change');
          line.appendChild(el('span', 'field', FIELD[c.field] || c.field));
          line.appendChild(el('span', 'before', valueText(c.field, c.before)));
          line.appendChild(el('span', 'arrow', '→'));
          line.appendChild(el('span', 'after', valueText(c.field, c.after)));
          what.appendChild(line);
        });
        if (!what.childNodes.length) what.textContent = '仅更新时间变化';
      }
      tr.appendChild(what);
      return tr;
    });
    if (!rows.length) rows.push(emptyRow(5, '没有记录版本'));
    $('versions').tBodies[0].replaceChildren.apply($('versions').tBodies[0], rows);
    setText($('version-count'), versions.length ? versions.length + ' 个版本' : '');
  }

  function emptyRow(span, text) {
    var tr = el('tr');
    var td = el('td', 'empty', text);
    td.colSpan = span;
    tr.appendChild(td);
    return tr;
  }

  if (!itemId) notice('地址有误', '缺少办件编号。');
  var live = DubanLive.page(refresh);
})();
