/* duban rankings page (/rankings?token=T&period=2026-10): GET /api/rankings, the ranking
 * table (a click on a department opens the items behind its figures), bars of the score
 * and the on-time rate, the projects over target, the formula, the downloads, and for the
 * office the publication. A published period shows its published figures, and what the
 * data now would change. */
(function () {
  'use strict';

  var D = window.Duban;
  var el = D.el;
  function $(id) { return document.getElementById(id); }
  var form = $('choose');
  var asked = D.params.get('period') || '';
  form.elements.period.value = asked;
  $('back').href = D.withToken('/');

  function pct(x) { return x === null || x === undefined ? '—' : (x * 100).toFixed(1) + '%'; }
  function num(x) { return x === null || x === undefined ? '—' : Number(x).toFixed(2); }
  function change(r) {
    if (r.place === null) return '—';
    if (r.change === null) return '新上榜';
    if (r.change === 0) return '持平';
    return r.change > 0 ? '↑' + r.change : '↓' + (-r.change);
  }
  function cell(text, cls) { return el('td', cls || null, String(text)); }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var p = form.elements.period.value.trim();
    location.href = D.withToken('/rankings' + (p ? '?period=' + encodeURIComponent(p) : ''));
  });

  function notice(text) {
    var n = el('div', 'notice notice-error');
    n.appendChild(el('p', null, text));
    $('message').replaceChildren(n);
  }

  function drill(report, r) {
    var tr = el('tr', 'drill');
    var td = el('td');
    td.colSpan = 15;
    var t = el('table', 'data');
    var head = el('tr');
    ['办件编号', '项目', '事项', '受理', '截止', '已用/允许', '办结', '等级', '超期工作日', '计入'].forEach(function (h) { head.appendChild(el('th', null, h)); });
    t.appendChild(head);
    report.items.filter(function (i) { return i.department === r.department; }).forEach(function (i) {
      var row = el('tr');
      var id = el('td');
      var a = el('a', null, i.item_id);
      a.href = D.withToken('/item/' + encodeURIComponent(i.item_id));
      id.appendChild(a);
      row.appendChild(id);
      row.appendChild(cell(i.project_name || i.project_code));
      row.appendChild(cell(i.matter));
      row.appendChild(cell(i.accepted_on));
      row.appendChild(cell(i.deadline));
      row.appendChild(cell(i.used + '/' + i.allowed, 'n'));
      row.appendChild(cell(i.finished_on || '—'));
      row.appendChild(cell(D.gradeFull(i.grade)));
      row.appendChild(cell(i.overdue_days, 'n'));
      var what = [];
      if (i.received) what.push('受理');
      if (i.finished) what.push(i.on_time ? '按时办结' : '超期办结');
      if (i.status === 'pending' || i.status === 'paused') what.push(i.overdue_days > 0 ? '期末在办超期' : '期末在办');
      if (i.red_at_end) what.push('期末红灯');
      if (i.warnings) what.push('预警' + i.warnings);
      if (i.answers) what.push('回告' + i.answers);
      row.appendChild(cell(what.join('、')));
      t.appendChild(row);
    });
    td.appendChild(t);
    tr.appendChild(td);
    tr.hidden = true;
    return tr;
  }

  function deptRow(report, r, body) {
    var tr = el('tr', 'rank-row');
    tr.dataset.department = r.department;
    [
      [r.place === null ? '—' : r.place, 'n'], [r.department], [r.place === null ? '—' : num(r.score), 'n'], [change(r)],
      [r.received, 'n'], [r.finished, 'n'], [pct(r.on_time_rate), 'n'], [pct(r.mean_share), 'n'],
      [pct(r.compression), 'n'], [r.overdue_days, 'n'], [r.red_pending, 'n'],
      [r.warnings + '/' + r.answers, 'n'], [num(r.answer_hours), 'n'], [num(r.rating), 'n'], [r.grade || '—']
    ].forEach(function (c) { tr.appendChild(cell(c[0], c[1])); });
    var more = drill(report, r);
    tr.addEventListener('click', function () { more.hidden = !more.hidden; });
    body.appendChild(tr);
    body.appendChild(more);
  }

  function render(data) {
    var report = data.report;
    $('title').textContent = (report.city || '') + report.title + '部门审批效能排名';
    document.title = report.title + ' 部门排名';
    $('period-line').textContent = '统计期间 ' + report.from + ' 至 ' + report.to +
      (report.so_far ? '（本期截至目前，非最终结果）' : '') + ' · 名次变化与 ' + report.previous + ' 比较';
    $('data-time').textContent = D.dataTimeText(report.data_time);
    var body = el('tbody');
    report.ranked.forEach(function (r) { deptRow(report, r, body); });
    if (report.unranked.length) {
      var apart = el('tr', 'apart');
      var td = el('td', null, '未参加排名（本期没有办结件）');
      td.colSpan = 15;
      apart.appendChild(td);
      body.appendChild(apart);
      report.unranked.forEach(function (r) { deptRow(report, r, body); });
    }
    if (!report.ranked.length && !report.unranked.length) {
      var none = el('tr');
      var e = el('td', 'empty', '本期没有数据');
      e.colSpan = 15;
      none.appendChild(e);
      body.appendChild(none);
    }
    $('ranking').replaceChild(body, $('ranking').tBodies[0]);

    var bars = $('bars');
    bars.replaceChildren();
    report.ranked.forEach(function (r) {
      var row = el('div', 'row');
      row.appendChild(el('div', 'name', r.department));
      var track = el('div', 'track');
      var s = el('div', 'score');
      s.style.width = Math.max(0, Math.min(100, r.score)) + '%';
      var t = el('div', 'rate');
      t.style.width = Math.max(0, Math.min(1, r.on_time_rate || 0)) * 100 + '%';
      track.appendChild(s);
      track.appendChild(t);
      row.appendChild(track);
      row.appendChild(el('div', 'value', num(r.score) + ' 分 · ' + pct(r.on_time_rate)));
      bars.appendChild(row);
    });

    var projects = el('tbody');
    var ph = el('tr');
    ['项目代码', '项目名称', '类别', '目标', '政府审批时间', '超出', '涉及部门'].forEach(function (h) { ph.appendChild(el('th', null, h)); });
    projects.appendChild(ph);
    report.projects_over.forEach(function (p) {
      var tr = el('tr');
      [p.project_code, p.project_name, D.categoryWord(p.category), p.target_days, p.government_days, p.over_by, p.departments.join('、')]
        .forEach(function (v) { tr.appendChild(cell(v)); });
      projects.appendChild(tr);
    });
    if (!report.projects_over.length) {
      var np = el('tr');
      var ne = el('td', 'empty', '本期没有项目超过目标');
      ne.colSpan = 7;
      np.appendChild(ne);
      projects.appendChild(np);
    }
    $('projects').replaceChild(projects, $('projects').tBodies[0]);
    $('formula').textContent = report.formula;
    $('digest').textContent = '读取办件 ' + report.items_read + ' 件，计入 ' + report.items.length + ' 件 · 数据摘要 ' + report.digest;

    var links = $('downloads');
    links.replaceChildren();
    [['xlsx', 'Excel'], ['png', '图表 PNG'], ['html', '打印版'], ['json', 'JSON']].forEach(function (f) {
      var a = el('a', null, f[1]);
      a.href = D.withToken('/api/rankings/download?period=' + encodeURIComponent(report.period) + '&format=' + f[0]);
      links.appendChild(a);
    });

    var pub = $('published');
    if (data.published) {
      pub.hidden = false;
      pub.replaceChildren(el('p', null, '已发布（' + D.dataTimeText(data.published.published_at) + '，' + data.published.published_by + '）：以下为发布时的结果，不随数据更新而改变。'));
      var c = data.published.comparison;
      if (c && c.differences.length) {
        var box = el('div', 'changed');
        box.appendChild(el('p', null, '发布后数据有更正，按现在的数据以下部门的结果会不同：'));
        var ul = el('ul');
        c.differences.forEach(function (d) {
          var parts = d.figures.map(function (f) { return f[0] + ' ' + f[1] + ' → ' + f[2]; });
          ul.appendChild(el('li', null, d.department + '：得分 ' + (d.score_change >= 0 ? '+' : '') + d.score_change.toFixed(2) + '；' + parts.join('，')));
        });
        box.appendChild(ul);
        pub.appendChild(box);
      } else if (c && c.inputs_changed) {
        pub.appendChild(el('p', 'changed', '发布后数据有更新，但各部门的结果不变。'));
      }
    } else {
      pub.hidden = true;
    }
    var button = $('publish');
    button.hidden = false;
    button.onclick = function () {
      fetch(D.withToken('/api/rankings/publish?period=' + encodeURIComponent(report.period)), { method: 'POST' })
        .then(function (res) {
          if (res.ok) { location.reload(); return; }
          return res.json().then(function (b) { notice(b.error || ('发布失败：' + res.status)); });
        });
    };
  }

  D.api('/api/rankings', { period: asked }).then(function (data) {
    render(data);
    document.body.dataset.loaded = 'ready';
  }).catch(function (err) {
    if (err.status === 401) {
      D.showUnauthorized($('main'));
      document.body.dataset.loaded = 'unauthorized';
      return;
    }
    notice(err.message);
    document.body.dataset.loaded = 'error';
  });
})();
