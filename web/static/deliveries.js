/* duban delivery audit (/audit/deliveries?token=T&department=&channel=&status=&rule=&item=
 * &from=&to=): GET /api/deliveries, every warning message newest first with its rule,
 * recipient (the address masked for viewers), items, status and attempts; a row opens to
 * its full text, every attempt with the provider's answer, and the receipt (全程留痕). The
 * query lives in the address, like /ledger, so an audit can be bookmarked and sent. Not
 * live: a record of what was sent, said in 数据更新于. */
(function () {
  'use strict';

  var D = window.Duban;
  var el = D.el;
  var setText = D.setText;
  function $(id) { return document.getElementById(id); }

  var FIELDS = ['from', 'to', 'department', 'channel', 'status', 'rule', 'item'];
  /** The API answers at most this many; more is said, so nobody takes a page for all. */
  var LIMIT = 200;
  var COLUMNS = 8;
  var CHANNEL = { sms: '短信', email: '邮件', robot: '群机器人' };
  var ROLE = {
    handler: '经办人', head: '负责人', office: '督办办公室', steward: '项目管家',
    leader: '领导', robot: '群机器人'
  };
  var STATUS = {
    pending: '待发送', sent: '已发送', delivered: '已送达', undelivered: '未送达', failed: '失败'
  };
  var OUTCOME = { accepted: '已受理', retryable: '失败（将重试）', permanent: '失败（不再重试）' };

  var form = $('filters');
  var main = $('main');
  var table = $('deliveries');
  var message = $('message');
  var asked = {};
  FIELDS.forEach(function (k) { asked[k] = D.params.get(k) || ''; });
  // A rung the select does not list (a ladder of three or more) is still offered as asked.
  if (/^escalation-\d+$/.test(asked.rule) && !form.querySelector('option[value="' + asked.rule + '"]')) {
    var extra = el('option', null, ruleTitle(asked.rule));
    extra.value = asked.rule;
    form.elements.rule.appendChild(extra);
  }
  FIELDS.forEach(function (k) { form.elements[k].value = asked[k]; });
  $('back').href = D.withToken('/');
  $('reset').href = D.withToken('/audit/deliveries');
  // An item opened from here comes back here, with these filters.
  D.rememberList();

  /** The rule's Chinese title, as the daemon's RuleName::title words it. */
  function ruleTitle(rule) {
    var titles = { near: '临期预警', overdue: '超期预警', digest: '超期日报', forecast: '超期预报' };
    if (titles[rule]) return titles[rule];
    var m = /^escalation-(\d+)$/.exec(rule || '');
    if (m) return m[1] === '1' ? '督办单' : '督办升级（第' + m[1] + '级）';
    return rule || '—';
  }

  function address(query) {
    var qs = new URLSearchParams();
    Object.keys(query).forEach(function (k) { if (query[k]) qs.set(k, query[k]); });
    var s = qs.toString();
    return D.withToken('/audit/deliveries' + (s ? '?' + s : ''));
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var query = {};
    FIELDS.forEach(function (k) { query[k] = String(form.elements[k].value || '').trim(); });
    location.href = address(query);
  });

  function notice(title, text) {
    var n = el('div', 'notice notice-error');
    n.appendChild(el('h2', null, title));
    n.appendChild(el('p', null, text));
    message.replaceChildren(n);
  }

  function emptyBody(text) {
    var body = el('tbody');
    var tr = el('tr');
    var td = el('td', 'empty', text);
    td.colSpan = COLUMNS;
    tr.appendChild(td);
    body.appendChild(tr);
    table.querySelectorAll('tbody').forEach(function (b) { b.remove(); });
    table.appendChild(body);
  }

  function load() {
    var query = { limit: LIMIT };
    FIELDS.forEach(function (k) { query[k] = asked[k]; });
    D.api('/api/deliveries', query).then(function (res) {
      message.replaceChildren();
      render(res);
      document.body.dataset.loaded = 'ready';
    }).catch(function (err) {
      if (err.status === 401) {
        D.showUnauthorized(main);
        document.body.dataset.loaded = 'unauthorized';
        return;
      }
      notice(err.status === 400 ? '查询条件有误' : '加载失败', err.message);
      emptyBody('未能加载预警消息');
      document.body.dataset.loaded = 'error';
    });
    // The department box offers the names with open items (any name may be typed).
    D.api('/api/summary').then(function (summary) {
      var names = {};
      (summary.by_department_stage_grade || []).forEach(function (r) { names[r.department] = true; });
      offerDepartments(Object.keys(names));
    }).catch(function () { /* the box still takes a typed name */ });
  }

  var offered = {};
  function offerDepartments(names) {
    var list = $('departments');
    names.filter(function (n) { return n && !offered[n]; })
      .sort(function (a, b) { return a.localeCompare(b, 'zh-CN'); })
      .forEach(function (n) {
        offered[n] = true;
        var o = el('option');
        o.value = n;
        list.appendChild(o);
      });
  }

  function queryLine() {
    var said = [];
    if (asked.from || asked.to) said.push('生成于 ' + (asked.from || '最早') + ' 至 ' + (asked.to || '今日'));
    if (asked.department) said.push('部门 ' + asked.department);
    if (asked.channel) said.push('渠道 ' + (CHANNEL[asked.channel] || asked.channel));
    if (asked.status) said.push('状态 ' + (STATUS[asked.status] || asked.status));
    if (asked.rule) said.push('规则 ' + ruleTitle(asked.rule));
    if (asked.item) said.push('办件 ' + asked.item);
    return said.length ? said.join(' · ') : '全部预警消息，最新的在前';
  }

  function render(res) {
    D.adoptZone(res.data_time);
    setText($('data-time'), D.dataTimeText(res.data_time));
    setText($('query-line'), queryLine());
    var list = Array.isArray(res.deliveries) ? res.deliveries : [];
    var departments = [];
    var bodies = list.map(function (d) {
      if (d.department) departments.push(d.department);
      return deliveryBody(d, !!res.unmasked);
    });
    offerDepartments(departments);
    var filtered = FIELDS.some(function (k) { return asked[k]; });
    setText($('count-line'), list.length >= LIMIT
      ? '仅显示最新 ' + LIMIT + ' 条，请缩小查询条件查看更早的消息'
      : '共 ' + list.length + ' 条' + (res.unmasked ? '' : ' · 号码与地址已脱敏'));
    if (!bodies.length) {
      emptyBody(filtered ? '没有符合条件的预警消息' : '暂无预警消息');
      return;
    }
    table.querySelectorAll('tbody').forEach(function (b) { b.remove(); });
    bodies.forEach(function (b) { table.appendChild(b); });
  }

  /** The status as shown: a held pending message says until when the quiet hours hold it. */
  function statusChip(d) {
    if (d.status === 'pending' && d.held) {
      return el('span', 'st st-held', '静默时段暂缓 至 ' + D.dateTime(d.not_before));
    }
    return el('span', 'st st-' + (STATUS[d.status] ? d.status : 'unknown'), STATUS[d.status] || d.status || '—');
  }

  /** A message: its row, and the detail row that the row opens. One tbody each, so a row
   *  and its detail stay together. */
  function deliveryBody(d, unmasked) {
    var body = el('tbody', 'delivery');
    body.dataset.id = String(d.id);
    var tr = el('tr', 'summary is-' + (d.status === 'pending' && d.held ? 'held' : d.status));
    tr.tabIndex = 0;
    tr.setAttribute('aria-expanded', 'false');
    tr.appendChild(el('td', 'num when', D.dateTime(d.created_at)));
    tr.appendChild(el('td', 'rule', ruleTitle(d.rule)));
    tr.appendChild(el('td', 'department', d.department || '（多个部门）'));
    tr.appendChild(el('td', 'channel', CHANNEL[d.channel] || d.channel));
    var who = el('td', 'recipient');
    who.appendChild(el('span', 'role', ROLE[d.role] || d.role || ''));
    who.appendChild(document.createTextNode(' '));   // copied out, the words stay apart
    who.appendChild(el('span', 'name', d.recipient || ''));
    who.appendChild(el('span', 'sub num address', d.address || ''));
    tr.appendChild(who);
    var items = Array.isArray(d.items) ? d.items : [];
    var cell = el('td', 'items');
    cell.appendChild(el('span', 'count', items.length + ' 件'));
    var ids = el('span', 'ids');
    items.slice(0, 3).forEach(function (id) { ids.appendChild(itemLink(id)); });
    if (items.length > 3) ids.appendChild(el('span', 'more-ids', '等'));
    cell.appendChild(ids);
    tr.appendChild(cell);
    var status = el('td', 'status');
    status.appendChild(statusChip(d));
    tr.appendChild(status);
    var attempts = Array.isArray(d.attempts) ? d.attempts : [];
    tr.appendChild(el('td', 'n attempts', attempts.length));
    body.appendChild(tr);

    var detail = el('tr', 'detail');
    detail.hidden = true;
    var td = el('td');
    td.colSpan = COLUMNS;
    detail.appendChild(td);
    body.appendChild(detail);
    var built = false;
    function toggle() {
      var open = detail.hidden;
      // Built on first opening: a day of messages is hundreds of rows.
      if (open && !built) { td.appendChild(details(d, items, attempts, unmasked)); built = true; }
      detail.hidden = !open;
      tr.classList.toggle('open', open);
      tr.setAttribute('aria-expanded', open ? 'true' : 'false');
    }
    tr.addEventListener('click', function (ev) {
      if (ev.target.closest('a')) return;   // an item's link opens the item, not the row
      toggle();
    });
    tr.addEventListener('keydown', function (ev) {
      if (ev.target !== tr || (ev.key !== 'Enter' && ev.key !== ' ')) return;
      ev.preventDefault();
      toggle();
    });
    return body;
  }

  /** "2026-11-25 10:00:03": attempts come seconds apart, so their seconds are shown. */
  function toSecond(s) {
    var p = D.zparts(s);
    return p ? p.y + '-' + p.mo + '-' + p.d + ' ' + p.h + ':' + p.mi + ':' + p.s : (s || '—');
  }

  function itemLink(id) {
    var a = el('a', 'num item-link', id);
    a.href = D.withToken('/item/' + encodeURIComponent(id));
    return a;
  }

  /** A term and its value, the value as text (or a node). */
  function fact(list, term, value) {
    list.appendChild(el('dt', null, term));
    var dd = el('dd');
    if (value instanceof Node) dd.appendChild(value);
    else dd.textContent = value === undefined || value === null || value === '' ? '—' : String(value);
    list.appendChild(dd);
  }

  function details(d, items, attempts, unmasked) {
    var box = el('div', 'detail-box');
    var left = el('section', 'detail-text');
    left.appendChild(el('h3', null, '消息正文'));
    if (d.subject) left.appendChild(el('p', 'subject', d.subject));
    left.appendChild(el('pre', 'text', d.text || '（无正文）'));
    var all = el('p', 'all-items');
    all.appendChild(el('span', 'k', '涉及办件 ' + items.length + ' 件：'));
    items.forEach(function (id) { all.appendChild(itemLink(id)); });
    left.appendChild(all);
    box.appendChild(left);

    var right = el('section', 'detail-facts');
    right.appendChild(el('h3', null, '发送与回执'));
    var dl = el('dl', 'facts-list');
    fact(dl, '接收人', (ROLE[d.role] || d.role || '') + ' ' + (d.recipient || ''));
    fact(dl, unmasked ? '号码/地址' : '号码/地址（脱敏）', d.address);
    fact(dl, '发送通道', d.sender);
    fact(dl, '最早发送', D.dateTime(d.not_before) + (d.held ? '（静默时段暂缓）' : ''));
    fact(dl, '发送时间', d.sent_at ? D.dateTime(d.sent_at) : '');
    fact(dl, '服务商消息编号', d.provider_id);
    fact(dl, '最近错误', d.last_error);
    var receipt = d.receipt_at || d.receipt || d.receipt_reason
      ? (d.status === 'delivered' ? '已送达' : d.status === 'undelivered' ? '未送达' : '') +
        (d.receipt_reason ? '（' + d.receipt_reason + '）' : '') +
        (d.receipt_at ? ' ' + D.dateTime(d.receipt_at) : '')
      : '尚无回执';
    fact(dl, '送达回执', receipt);
    right.appendChild(dl);
    box.appendChild(right);

    var tries = el('section', 'detail-attempts');
    tries.appendChild(el('h3', null, '发送尝试（' + attempts.length + ' 次）'));
    if (!attempts.length) {
      tries.appendChild(el('p', 'none', d.held ? '静默时段结束后发送，尚未尝试' : '尚未尝试发送'));
    } else {
      var t = el('table', 'data attempts-table');
      var head = el('tr');
      ['#', '时间', '结果', '服务商编号', '代码', '错误', '服务商应答'].forEach(function (h) {
        head.appendChild(el('th', null, h));
      });
      var thead = el('thead');
      thead.appendChild(head);
      t.appendChild(thead);
      var tbody = el('tbody');
      attempts.forEach(function (a, i) {
        var row = el('tr', 'outcome-' + a.outcome);
        row.appendChild(el('td', 'n', i + 1));
        row.appendChild(el('td', 'num', toSecond(a.at)));
        row.appendChild(el('td', 'outcome', OUTCOME[a.outcome] || a.outcome));
        row.appendChild(el('td', 'num', a.provider_id || '—'));
        row.appendChild(el('td', 'num', a.code || '—'));
        row.appendChild(el('td', 'error', a.error || '—'));
        var answer = el('td', 'answer');
        answer.appendChild(el('code', null, a.answer || '—'));
        row.appendChild(answer);
        tbody.appendChild(row);
      });
      t.appendChild(tbody);
      tries.appendChild(t);
    }
    box.appendChild(tries);
    return box;
  }

  load();
})();
