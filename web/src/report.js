// A report/v1 document (vault/report.py) from what a person typed, checked by the same
// rules parse_report applies, so that what the page seals opens for the caseworker.
// Each problem names the form control (its id) and a message code (page.js MESSAGES).

const BIDI = /[\u202a-\u202e\u2066-\u2069]/u;
const CONTROL = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}]/u;

function text(value, { max, free = false }) {
  const v = value.normalize("NFC");
  const stripped = free ? v.replace(/[\n\t]/gu, "") : v;
  if (CONTROL.test(stripped)) return { code: "bad-text" };
  if (BIDI.test(v)) return { code: "bad-text" };
  if (v.length > max) return { code: "too-long" };
  return { value: v };
}

const isHangul = (c) => {
  const p = c.codePointAt(0);
  return (p >= 0xac00 && p <= 0xd7a3) || (p >= 0x1100 && p <= 0x11ff) || (p >= 0x3130 && p <= 0x318f) || c === " ";
};

/** {value, precision} for "YYYY", "YYYY-MM" or "YYYY-MM-DD", or {code} when it is none. */
export function partialDate(raw) {
  const value = raw.trim();
  const precision = { 4: "year", 7: "month", 10: "day" }[value.length];
  if (!precision || !/^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$/u.test(value)) return { code: "bad-date" };
  const [y, m = 1, d = 1] = value.split("-").map(Number);
  if (y < 1900 || y > 2100) return { code: "bad-date" };
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return { code: "bad-date" };
  return { value: { value, precision } };
}

function earliest(p) {
  const [y, m = 1, d = 1] = p.value.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10);
}
function latest(p) {
  const [y, m, d] = p.value.split("-").map(Number);
  if (d) return p.value;
  const last = m ? new Date(Date.UTC(y, m, 0)) : new Date(Date.UTC(y, 11, 31));
  return last.toISOString().slice(0, 10);
}

/**
 * `fields` maps control ids to their values (strings; booleans for checkboxes) and
 * `events` is a list of such maps. Returns {report} or {problems: [{id, code}]}.
 */
export function buildReport(fields, events, language) {
  const problems = [];
  const get = (id, rules) => {
    const raw = (fields[id] ?? "").trim();
    if (!raw) return null;
    const checked = text(raw, rules);
    if (checked.code) problems.push({ id, code: checked.code });
    return checked.value ?? null;
  };
  const date = (id, source = fields) => {
    const raw = (source[id] ?? "").trim();
    if (!raw) return null;
    const parsed = partialDate(raw);
    if (parsed.code) problems.push({ id: source.__prefix ? `${source.__prefix}${id}` : id, code: parsed.code });
    return parsed.value ?? null;
  };
  const hangul = get("detainee-name-hangul", { max: 100 });
  if (hangul !== null && (!Array.from(hangul).every(isHangul) || !hangul.trim())) {
    problems.push({ id: "detainee-name-hangul", code: "not-hangul" });
  }
  const roman = get("detainee-name-roman", { max: 100 });
  const alias = get("detainee-name-chinese", { max: 100 });
  if (hangul === null && roman === null && alias === null) problems.push({ id: "detainee-name-hangul", code: "need-name" });
  const relationship = get("source-relationship", { max: 200 });
  if (relationship === null) problems.push({ id: "source-relationship", code: "required" });
  const knowledge = fields["source-knowledge"];
  if (knowledge !== "direct" && knowledge !== "hearsay") problems.push({ id: "source-knowledge-direct", code: "required" });
  const narrative = get("narrative", { max: 60000, free: true }) ?? "";
  const report = {
    schema: "report/v1",
    language,
    detainee: {
      name_hangul: hangul,
      romanisations: roman === null ? [] : [roman],
      chinese_alias: alias,
      sex: ["female", "male"].includes(fields["detainee-sex"]) ? fields["detainee-sex"] : "unknown",
      birth_date: date("detainee-birth"),
      hometown: get("detainee-hometown", { max: 200 }),
    },
    events: [],
    source: { relationship, knowledge, last_contact: date("source-last-contact") },
    consent: {
      share_with_un_working_groups: Boolean(fields["consent-un"]),
      publish: Boolean(fields["consent-publish"]),
      recontact: Boolean(fields["consent-recontact"]),
    },
    narrative,
  };
  for (const [n, event] of events.entries()) {
    const prefix = `event-${n}-`;
    const line = (name) => {
      const raw = (event[name] ?? "").trim();
      if (!raw) return null;
      const checked = text(raw, { max: 200 });
      if (checked.code) problems.push({ id: prefix + name, code: checked.code });
      return checked.value ?? null;
    };
    const start = date("start", { ...event, __prefix: prefix });
    const end = date("end", { ...event, __prefix: prefix });
    if (end && !start) problems.push({ id: `${prefix}start`, code: "bad-date" });
    if (start && end && latest(end) < earliest(start)) problems.push({ id: `${prefix}end`, code: "end-before-start" });
    const description = text((event.description ?? "").trim(), { max: 8000, free: true });
    if (description.code) problems.push({ id: `${prefix}description`, code: description.code });
    report.events.push({
      kind: ["arrest", "detention", "transfer", "repatriation"].includes(event.kind) ? event.kind : "other",
      date: start ? { start, end } : null,
      facility: line("facility"),
      responsible_unit: line("unit"),
      whereabouts: line("whereabouts"),
      description: description.value ?? "",
    });
  }
  return problems.length ? { problems } : { report };
}
