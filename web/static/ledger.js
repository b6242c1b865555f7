/* duban ledger table (/ledger?token=T&from=&to=&project=&department=&after=): GET
 * /api/ledger, one block per project (a header row, then its items in stage order) with
 * the period's grade events, as the office prints it (挂图作战). The query lives in the
 * address, so a table can be bookmarked, sent and printed as it is; a query or a page
 * change loads the address anew. Not live: a printed table is of one moment, said in
 * 数据更新于. */
(function () {
  'use strict';

  var D = window.Duban;
  var el = D.el;
  var setText = D.setText;
  function $(id) { return document.getElementById(id); }

  var FIELDS = ['from', 'to', 'project', 'department'];
  var form = $('filters');
  var main = $('main');
  var table = $('ledger');
  var message = $('message');
  var asked = {};
  FIELDS.concat(['after']).forEach(function (k) { asked[k] = D.params.get(k) || ''; });
  FIELDS.forEach(function (k) { form.elements[k].value = asked[k]; });
  $('back').href = D.withToken('/');
  // An item opened from here comes back here, to this period and page.
  D.rememberList();

  /** This page's address for `query` (empty values left out), with the token. */
  function address(query) {
    var qs = new URLSearchParams();
    Object.keys(query).forEach(function (k) { if (query[k]) qs.set(k, query[k]); });
    var s = qs.toString();
    return D.withToken('/ledger' + (s ? '?' + s : ''));
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var query = {};
    FIELDS.forEach(function (k) { query[k] = form.elements[k].value.trim(); });
    location.href = address(query);
  });
  $('print').addEventListener('click', function () { window.print(); });

  function notice(title, text) {
    var n = el('div', 'notice notice-error');
    n.appendChild(el('h2', null, title));
    n.appendChild(el('p', null, text));
    message.replaceChildren(n);
  }

  function load() {
    var query = {};
    FIELDS.concat(['after']).forEach(function (k) { query[k] = asked[k]; });
    D.api('/api/ledger', query).then(function (page) {
      message.replaceChildren();
      render(page);
      document.body.dataset.loaded = 'ready';
    }).catch(function (err) {
      if (err.status === 401) {
        D.showUnauthorized(main);
        document.body.dataset.loaded = 'unauthorized';
        return;
      }
      notice(err.status === 400 ? '查询条件有误' : '加载失败', err.message);
      emptyBody('未能加载台账');
      document.body.dataset.loaded = 'error';
    });
    // The department box offers the names that have open items (any name may be typed).
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

  function render(page) {
    D.adoptZone(page.data_time);
    setText($('data-time'), D.dataTimeText(page.data_time));
    if (!form.elements.from.value) form.elements.from.value = page.from;
    if (!form.elements.to.value) form.elements.to.value = page.to;
    var line = '统计期间 ' + page.from + ' 至 ' + page.to + ' · 评定日 ' + page.graded_on +
      '（各办件按期间末的记录、于评定日计算）';
    if (page.project) line += ' · 项目含“' + page.project + '”';
    if (page.department) line += ' · 部门 ' + page.department;
    setText($('period-line'), line);
    document.title = '电子台账 ' + page.from + ' 至 ' + page.to + ' · 工程建设项目审批督办';
    var ungraded = $('ungraded');
    var left = (page.ungraded || []).length;
    ungraded.hidden = !left;
    setText(ungraded, left ? left + ' 件办件的节假日安排未加载，无法计算期限，未列入本表（如 ' + page.ungraded[0] + '）' : '');

    var projects = page.projects || [];
    var departments = [];
    var bodies = projects.map(function (block) {
      block.items.forEach(function (it) { departments.push(it.department); });
      return projectBody(block);
    });
    offerDepartments(departments);
    table.querySelectorAll('tbody').forEach(function (b) { b.remove(); });
    if (!bodies.length) {
      emptyBody(page.after ? '没有更多项目' : '该期间没有符合条件的办件');
    } else {
      bodies.forEach(function (b) { table.appendChild(b); });
    }
    var items = projects.reduce(function (n, b) { return n + b.items.length; }, 0);
    setText($('page-info'), projects.length + ' 个项目 · ' + items + ' 件办件' +
      (page.after ? '（接续 ' + page.after + ' 之后）' : ''));
    var query = {};
    FIELDS.forEach(function (k) { query[k] = asked[k]; });
    var first = $('first');
    first.hidden = !page.after;
    first.href = address(query);
    var next = $('next');
    next.hidden = !page.next_after;
    if (page.next_after) {
      query.after = page.next_after;
      next.href = address(query);
    }
  }

  function emptyBody(text) {
    table.querySelectorAll('tbody').forEach(function (b) { b.remove(); });
    var body = el('tbody', 'empty-body');
    var tr = el('tr');
    var td = el('td', 'empty', text);
    td.colSpan = 12;
    tr.appendChild(td);
    body.appendChild(tr);
    table.appendChild(body);
  }

  /** A project's block: its header row, then a row per item. */
  function projectBody(block) {
    var body = el('tbody', 'project');
    body.dataset.project = block.project.code;
    var head = el('tr', 'project-head');
    var th = el('th');
    th.colSpan = 12;
    th.appendChild(el('span', 'code num', block.project.code));
    th.appendChild(el('b', 'name', block.project.name || '（未命名项目）'));
    var category = D.categoryWord(block.project.category);
    if (category) th.appendChild(el('span', 'tag', category));
    th.appendChild(el('span', 'count', block.items.length + ' 件'));
    head.appendChild(th);
    body.appendChild(head);
    block.items.forEach(function (it) { body.appendChild(itemRow(it)); });
    return body;
  }

  function itemRow(it) {
    var tr = el('tr', 'is-' + (it.status === 'withdrawn' ? 'none' : it.grade));
    tr.dataset.itemId = it.item_id;
    tr.appendChild(el('td', 'stage', it.stage + ' ' + D.stageName(it.stage)));
    tr.appendChild(el('td', 'matter', it.matter));
    tr.appendChild(el('td', 'department', it.department));
    var id = el('td', 'num');
    var link = el('a', null, it.item_id);
    link.href = D.withToken('/item/' + encodeURIComponent(it.item_id));
    id.appendChild(link);
    tr.appendChild(id);
    tr.appendChild(el('td', 'n', it.accepted_on));
    tr.appendChild(el('td', 'n' + (it.overdue && it.status !== 'withdrawn' ? ' late' : ''), it.deadline));
    tr.appendChild(el('td', 'n', D.int(it.used) + ' / ' + D.int(it.allowed)));
    var pauses = el('td', 'pauses');
    (it.pauses || []).forEach(function (p) {
      pauses.appendChild(el('div', null, D.pauseWord(p.kind) + ' ' + p.from +
        (p.to ? ' 至 ' + p.to : ' 起（进行中）')));
    });
    if (!pauses.childNodes.length) pauses.textContent = '—';
    tr.appendChild(pauses);
    tr.appendChild(el('td', 'n', it.finished_on || '—'));
    tr.appendChild(el('td', null, D.statusWord(it.status)));
    var grade = el('td', 'grade');
    grade.appendChild(D.gradeChip(it.grade, it.status));
    if (it.provisional) {
      var tag = el('span', 'tag-provisional', '暂定');
      tag.title = '期限含尚未发布节假日安排的年份，按法定假日推算，通知发布后可能变动';
      grade.appendChild(tag);
    }
    tr.appendChild(grade);
    var events = el('td', 'events');
    (it.events || []).forEach(function (e) {
      var line = el('div', 'event');
      line.appendChild(el('span', 'num when', D.dateTime(e.at)));
      line.appendChild(el('span', 'step', (e.from ? D.gradeFull(e.from) : '首次') + ' → ' + D.gradeFull(e.to)));
      line.appendChild(el('span', 'cause', D.causeWord(e.cause)));
      events.appendChild(line);
    });
    if (!events.childNodes.length) events.textContent = '—';
    tr.appendChild(events);
    return tr;
  }

  load();
})();
