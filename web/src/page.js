// The source page (issue 7): a report sealed in the browser, in Korean and English.
//
// Stable control ids, for people and for the browser tests (tests/browser/):
//   lang-ko, lang-en                 language switch (the <html lang> follows)
//   view-submit, view-replies        the two views (aria-pressed says which is shown)
//   org-fingerprint                  the org fingerprint (built in, or typed by the person)
//   detainee-name-hangul, detainee-name-roman, detainee-name-chinese, detainee-sex,
//   detainee-birth, detainee-hometown
//   event-add; per event N (0-based): event-N-kind, event-N-start, event-N-end,
//     event-N-facility, event-N-unit, event-N-whereabouts, event-N-description, event-N-remove
//   source-relationship, source-knowledge-direct, source-knowledge-hearsay, source-last-contact
//   consent-un, consent-publish, consent-recontact, narrative
//   attachments (file input), attachment-list
//   submit                           seal and send
//   progress-box, status, progress   steps and the upload's progress bar
//   codename-box, codename           the codename, shown once the server took the report
//   done-box, receipt                the verified receipt (log index)
//   replies-codename, replies-check  the "check for replies" view; replies-status while it works
//   replies-result, replies-summary, reply-list (one <li> per reply)
//   followup-name, followup-relationship, followup-text, followup-send, followup-done
//   error                            every failure, in the page's language (role=alert);
//                                    its data-code attribute names the failure
//   A field with a problem gets aria-invalid="true" and a following .field-error.
import * as core from "./core.js";
import * as flow from "./flow.js";
import { buildReport } from "./report.js";

const EN = {
  title: "Report a missing or detained family member",
  "view-submit": "Report",
  "view-replies": "Check for replies",
  "safety-title": "For your safety",
  "safety-tor": "If you can, open this page in Tor Browser: your internet provider then cannot see that you visited this site.",
  "safety-codename": "When you have sent the report you get a codename (11 words). Write it on paper and keep it safe. Do not save it on your phone or take a photo of it.",
  "safety-sealed": "Your report and files are encrypted on this device before they are sent. The server cannot read them; only the organisation's intake caseworkers can open them.",
  "safety-see": "The organisation sees the report, the files, and the names and consent you give. Your name, address, phone number and IP address are not stored: they are not known unless you write them yourself.",
  "safety-served": "A page opened straight from the server can be altered if the server is compromised. A saved copy of the page that the organisation gave you cannot be changed later by the server, so it is safer.",
  "page-served": "You opened this page from the server. If you can, use the saved copy the organisation gave you.",
  "page-saved": "This is a saved copy of the page, made by the organisation for {server}.",
  "org-title": "Check the organisation",
  "org-fingerprint": "Organisation fingerprint (32 characters you got from the organisation)",
  "org-fingerprint-hint": "Check that it matches, character by character, the fingerprint the organisation gave you.",
  "submit-title": "Your report",
  detainee: "The person detained",
  "name-hint": "Give at least one name.",
  "name-hangul": "Name (in Hangul)",
  "name-roman": "Name (in Latin letters)",
  "name-chinese": "Name used in China",
  sex: "Sex",
  "sex-unknown": "Unknown",
  "sex-female": "Female",
  "sex-male": "Male",
  birth: "Date of birth (e.g. 1985, 1985-03, 1985-03-14)",
  hometown: "Home town",
  events: "What happened (arrest, detention, transfer, forced return)",
  "event-add": "Add what happened",
  "event-kind": "What",
  "kind-arrest": "Arrest",
  "kind-detention": "Detention",
  "kind-transfer": "Transfer",
  "kind-repatriation": "Forced return",
  "kind-other": "Other",
  "event-start": "When (e.g. 2024, 2024-05, 2024-05-14)",
  "event-end": "Until (if it lasted)",
  "event-facility": "Facility",
  "event-unit": "Police or unit responsible",
  "event-whereabouts": "Where the person is or was held",
  "event-description": "What you saw or heard",
  "event-remove": "Remove",
  source: "You",
  relationship: "Your relationship to the person (e.g. mother, brother)",
  knowledge: "How do you know?",
  "knowledge-direct": "I saw or lived it myself",
  "knowledge-hearsay": "Someone told me",
  "last-contact": "When you were last in contact (e.g. 2024-04)",
  consent: "Consent",
  "consent-un": "You may pass this to the UN working groups",
  "consent-publish": "You may publish it without names",
  "consent-recontact": "The organisation may contact me again through replies",
  narrative: "The full story",
  attachments: "Files (photos, documents, recordings; up to 20)",
  submit: "Encrypt and send",
  "progress-title": "Sending",
  "codename-title": "Your codename",
  "codename-advice-write": "Write it on paper now, exactly. Without it you cannot read replies, and the organisation cannot tell it to you again.",
  "codename-advice-phone": "Do not save it on your phone, photograph it or send it in a message.",
  "codename-advice-replies": "In a few days, enter it under \"Check for replies\" to read the organisation's replies.",
  "done-title": "Sent",
  "done-text": "Your report arrived, and this device checked that it is in the server's log.",
  "receipt-label": "Receipt number",
  "replies-title": "Check for replies",
  "replies-codename": "Codename (11 words)",
  "replies-check": "Check",
  "replies-none": "Your report is there ({records} records, checked in the log). No reply yet.",
  "replies-some": "Your report is there ({records} records, checked in the log). Replies: {count}.",
  "followup-title": "Add information",
  "followup-hint": "Write what you learned since, about the same person. It is encrypted on this device before it is sent.",
  "followup-name": "Name of the person detained",
  "followup-text": "What you learned",
  "followup-send": "Encrypt and add",
  "followup-done": "Added.",
  footer: "Testimony Vault · this page loads nothing from anywhere else.",
  "step-org": "Checking the organisation's keys…",
  "step-keys": "Making your codename (this can take a minute)…",
  "step-work": "Solving the anti-spam puzzle…",
  "step-seal": "Encrypting on this device…",
  "step-upload": "Uploading…",
  "step-complete": "Checking the receipt…",
  "step-lookup": "Looking up your codename…",
  offline: "No connection to the server. Check your internet connection and try again; nothing was lost.",
  server: "The server has a problem right now. Try again later.",
  busy: "The server is busy. Wait a minute and try again.",
  fingerprint: "Wrong fingerprint: the server is not the organisation you named. Do not send anything; check the fingerprint with the organisation.",
  "fingerprint-format": "That is not an organisation fingerprint: it has 32 letters and digits in 8 groups.",
  roster: "The server's list of caseworkers is not signed by the organisation. Nothing was sent.",
  "no-roster": "The organisation has not published its caseworkers yet. Nothing was sent; try again later.",
  "no-intake": "No caseworker can receive reports right now. Nothing was sent; try again later.",
  "too-large": "A file is too large for the organisation. Nothing was sent; leave it out or make it smaller.",
  "too-many": "At most 20 files can go with one report.",
  name: "A file name cannot be used; rename the file and try again.",
  changed: "A file changed or could not be read while it was being sent. Choose it again and send again.",
  "pow-refused": "The server refused the anti-spam puzzle (it may have expired). Try again.",
  receipt: "The receipt did not check out: the server may not have stored your report. Keep your codename and try again later.",
  codename: "The codename is not right: {detail}.",
  "not-found": "No report matches this codename at this organisation. Check every word.",
  reply: "A reply could not be verified, so it is not shown. The server may be misbehaving.",
  signature: "A signature did not verify. Nothing was sent.",
  malformed: "The server sent something unexpected. Try again later.",
  refused: "The server refused the request ({detail}).",
  internal: "Something went wrong on this page ({detail}).",
  invalid: "Please correct the fields marked below.",
  required: "This is needed.",
  "need-name": "Give at least one name.",
  "not-hangul": "Write this name in Hangul only.",
  "bad-date": "Write the date as 2024, 2024-05 or 2024-05-14.",
  "end-before-start": "This is before the start.",
  "bad-text": "This holds a character that cannot be used.",
  "too-long": "This is too long.",
};

const KO = {
  title: "실종·구금 가족 신고",
  "view-submit": "신고하기",
  "view-replies": "답장 확인",
  "page-served": "이 페이지는 서버에서 바로 열었습니다. 가능하면 단체가 건네준 저장된 페이지를 쓰세요.",
  "page-saved": "단체가 {server} 용으로 만든 저장된 페이지입니다.",
  "event-kind": "무슨 일",
  "kind-arrest": "체포",
  "kind-detention": "구금",
  "kind-transfer": "이송",
  "kind-repatriation": "강제송환",
  "kind-other": "기타",
  "event-start": "언제 (예: 2024, 2024-05, 2024-05-14)",
  "event-end": "언제까지 (계속되었다면)",
  "event-facility": "시설",
  "event-unit": "관련 기관이나 부대",
  "event-whereabouts": "구금된 곳",
  "event-description": "보거나 들은 것",
  "event-remove": "지우기",
  "replies-none": "신고서가 있습니다 (기록 {records}개, 로그에서 확인). 아직 답장이 없습니다.",
  "replies-some": "신고서가 있습니다 (기록 {records}개, 로그에서 확인). 답장 {count}개.",
  "step-org": "단체의 키를 확인하는 중…",
  "step-keys": "암호명을 만드는 중 (1분쯤 걸릴 수 있습니다)…",
  "step-work": "스팸 방지 문제를 푸는 중…",
  "step-seal": "이 기기에서 암호화하는 중…",
  "step-upload": "올리는 중…",
  "step-complete": "접수 확인서를 검증하는 중…",
  "step-lookup": "암호명을 찾는 중…",
  offline: "서버에 연결할 수 없습니다. 인터넷 연결을 확인하고 다시 시도하세요. 잃은 것은 없습니다.",
  server: "지금 서버에 문제가 있습니다. 나중에 다시 시도하세요.",
  busy: "서버가 바쁩니다. 1분쯤 뒤에 다시 시도하세요.",
  fingerprint: "지문이 다릅니다. 이 서버는 적어 주신 단체가 아닙니다. 아무것도 보내지 말고 단체에 지문을 확인하세요.",
  "fingerprint-format": "단체 지문이 아닙니다. 지문은 영문자와 숫자 32개, 8묶음입니다.",
  roster: "서버의 담당자 목록에 단체의 서명이 없습니다. 아무것도 보내지 않았습니다.",
  "no-roster": "단체가 아직 담당자 목록을 올리지 않았습니다. 아무것도 보내지 않았습니다. 나중에 다시 시도하세요.",
  "no-intake": "지금은 신고를 받을 담당자가 없습니다. 아무것도 보내지 않았습니다. 나중에 다시 시도하세요.",
  "too-large": "파일이 너무 큽니다. 아무것도 보내지 않았습니다. 그 파일을 빼거나 크기를 줄이세요.",
  "too-many": "신고서 하나에 파일은 20개까지 넣을 수 있습니다.",
  name: "이 파일 이름은 쓸 수 없습니다. 파일 이름을 바꾸고 다시 시도하세요.",
  changed: "보내는 동안 파일이 바뀌었거나 읽을 수 없었습니다. 파일을 다시 고르고 다시 보내세요.",
  "pow-refused": "서버가 스팸 방지 문제의 답을 받지 않았습니다 (시간이 지났을 수 있습니다). 다시 시도하세요.",
  receipt: "접수 확인서가 맞지 않습니다. 서버가 신고서를 저장하지 않았을 수 있습니다. 암호명을 잘 두고 나중에 다시 시도하세요.",
  codename: "암호명이 맞지 않습니다: {detail}.",
  "not-found": "이 단체에 이 암호명과 맞는 신고서가 없습니다. 단어를 하나씩 확인하세요.",
  reply: "답장 하나를 검증할 수 없어 보여 드리지 않습니다. 서버가 잘못 동작하고 있을 수 있습니다.",
  signature: "서명이 맞지 않습니다. 아무것도 보내지 않았습니다.",
  malformed: "서버가 예상하지 못한 답을 보냈습니다. 나중에 다시 시도하세요.",
  refused: "서버가 요청을 거절했습니다 ({detail}).",
  internal: "이 페이지에 문제가 생겼습니다 ({detail}).",
  invalid: "아래 표시된 칸을 고쳐 주세요.",
  required: "꼭 적어 주세요.",
  "need-name": "이름을 하나 이상 적어 주세요.",
  "not-hangul": "이 이름은 한글로만 적어 주세요.",
  "bad-date": "날짜는 2024, 2024-05, 2024-05-14처럼 적어 주세요.",
  "end-before-start": "시작보다 앞선 날짜입니다.",
  "bad-text": "쓸 수 없는 글자가 들어 있습니다.",
  "too-long": "너무 깁니다.",
  footer: "Testimony Vault · 이 페이지는 외부 자원을 불러오지 않습니다.",
};

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("tvault-config").textContent);
const server = new flow.Server(config.server || "");
const koText = {};
for (const el of document.querySelectorAll("[data-i18n]")) koText[el.dataset.i18n] = el.textContent;
let lang = "en";
let eventCount = 0;
let lastError = null;

function t(key, values = {}) {
  const table = lang === "ko" ? { ...EN, ...koText, ...KO } : EN;
  return (table[key] ?? key).replace(/\{(\w+)\}/gu, (_, name) => String(values[name] ?? ""));
}

function setLanguage(next) {
  lang = next;
  document.documentElement.lang = next;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang-ko").setAttribute("aria-pressed", String(next === "ko"));
  $("lang-en").setAttribute("aria-pressed", String(next === "en"));
  $("page-origin").textContent = config.saved ? t("page-saved", { server: config.server }) : t("page-served");
  if (lastError) showError(lastError);
  for (const el of document.querySelectorAll(".field-error")) el.textContent = t(el.dataset.code);
}

function preferredLanguage() {
  for (const tag of navigator.languages ?? [navigator.language ?? ""]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base === "ko" || base === "en") return base;
  }
  return "en";
}

function showError(error) {
  lastError = error;
  const code = error?.code ?? "internal";
  const box = $("error");
  box.dataset.code = code;
  box.textContent = t(code in EN ? code : "internal", { detail: error?.detail ?? String(error?.message ?? error) });
  box.hidden = false;
  box.scrollIntoView?.({ block: "center" });
}

function clearErrors() {
  lastError = null;
  $("error").hidden = true;
  for (const el of document.querySelectorAll(".field-error")) el.remove();
  for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function markField(id, code) {
  const el = $(id);
  if (!el) return;
  el.setAttribute("aria-invalid", "true");
  const note = document.createElement("p");
  note.className = "field-error";
  note.id = `${id}-error`;
  note.dataset.code = code;
  note.textContent = t(code);
  el.setAttribute("aria-describedby", note.id);
  el.insertAdjacentElement("afterend", note);
}

function field(labelKey, id, control) {
  const label = document.createElement("label");
  label.htmlFor = id;
  label.dataset.i18n = labelKey;
  label.textContent = t(labelKey);
  control.id = id;
  return [label, control];
}

function addEvent() {
  const n = eventCount++;
  const item = document.createElement("li");
  item.id = `event-${n}`;
  const kind = document.createElement("select");
  for (const k of ["arrest", "detention", "transfer", "repatriation", "other"]) {
    const option = document.createElement("option");
    option.value = k;
    option.dataset.i18n = `kind-${k}`;
    option.textContent = t(`kind-${k}`);
    kind.append(option);
  }
  const input = () => {
    const el = document.createElement("input");
    el.autocomplete = "off";
    return el;
  };
  const remove = document.createElement("button");
  remove.type = "button";
  remove.id = `event-${n}-remove`;
  remove.dataset.i18n = "event-remove";
  remove.textContent = t("event-remove");
  remove.addEventListener("click", () => item.remove());
  item.append(
    ...field("event-kind", `event-${n}-kind`, kind),
    ...field("event-start", `event-${n}-start`, input()),
    ...field("event-end", `event-${n}-end`, input()),
    ...field("event-facility", `event-${n}-facility`, input()),
    ...field("event-unit", `event-${n}-unit`, input()),
    ...field("event-whereabouts", `event-${n}-whereabouts`, input()),
    ...field("event-description", `event-${n}-description`, document.createElement("textarea")),
    remove,
  );
  $("event-list").append(item);
  $(`event-${n}-kind`).focus();
}

function readForm() {
  const fields = {};
  for (const el of $("submit-form").querySelectorAll("input, select, textarea")) {
    if (!el.id || el.type === "file" || el.closest("#event-list")) continue;
    if (el.type === "checkbox") fields[el.id] = el.checked;
    else if (el.type === "radio") {
      if (el.checked) fields[el.name] = el.value;
    } else fields[el.id] = el.value;
  }
  const events = [];
  for (const item of $("event-list").children) {
    const n = item.id.slice("event-".length);
    const value = (name) => $(`event-${n}-${name}`).value;
    events.push(
      Object.fromEntries(["kind", "start", "end", "facility", "unit", "whereabouts", "description"].map((k) => [k, value(k)])),
    );
  }
  return { fields, events, ids: Array.from($("event-list").children, (item) => item.id.slice("event-".length)) };
}

function fingerprint() {
  const typed = $("org-fingerprint").value;
  try {
    return core.normaliseFingerprint(typed);
  } catch {
    markField("org-fingerprint", "fingerprint-format");
    throw new core.VaultError("fingerprint-format");
  }
}

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", String(on));
}

function status(key) {
  $("status").textContent = t(`step-${key}`);
  $("status").dataset.step = key;
  $("progress").removeAttribute("value"); // moving, until the step says how far
}

function meter(done, total) {
  $("progress").max = total;
  $("progress").value = done;
}

function readFiles() {
  const files = Array.from($("attachments").files ?? []);
  if (files.length > 20) throw new core.VaultError("too-many");
  const read = [];
  for (const file of files) {
    try {
      core.checkName(file.name);
    } catch {
      throw new core.VaultError("name", file.name);
    }
    if (core.payloadSize(core.attachmentSize(file.name, file.size)) > config.maxBytes) {
      throw new core.VaultError("too-large", file.name);
    }
    read.push({ name: file.name, file }); // read piece by piece as it is sealed
  }
  return read;
}

async function onSubmit(event) {
  event.preventDefault();
  clearErrors();
  const button = $("submit");
  const { fields, events, ids } = readForm();
  const built = buildReport(fields, events, lang);
  if (built.problems) {
    for (const p of built.problems) {
      // buildReport numbers events by position; the page's ids keep their first number.
      const id = p.id.replace(/^event-(\d+)-/u, (_, i) => `event-${ids[Number(i)]}-`);
      markField(id, p.code);
    }
    showError({ code: "invalid" });
    return;
  }
  busy(button, true);
  try {
    const org = fingerprint();
    const files = readFiles();
    $("progress-box").hidden = false;
    $("progress").removeAttribute("value");
    const result = await flow.submit(server, {
      fingerprint: org,
      report: built.report,
      files,
      lang,
      params: config.params,
      onStep: status,
      onCodename: (words) => {
        $("codename").textContent = words;
        $("codename-box").hidden = false;
      },
      onKeys: (fraction) => meter(fraction, 1),
      onWork: (tries, expected) => meter(Math.min(tries, expected), expected),
      onProgress: meter,
    });
    $("progress").value = $("progress").max;
    $("receipt").textContent = String(result.logIndex);
    $("done-box").hidden = false;
    $("progress-box").hidden = true;
    $("submit-form").hidden = true;
    $("codename-box").focus();
  } catch (error) {
    $("progress-box").hidden = true;
    showError(error);
  } finally {
    busy(button, false);
  }
}

let thread = null;

async function onReplies(event) {
  event.preventDefault();
  clearErrors();
  const button = $("replies-check");
  busy(button, true);
  $("replies-result").hidden = true;
  try {
    const org = fingerprint();
    $("replies-status").hidden = false;
    $("replies-status").textContent = t("step-lookup");
    thread = await flow.checkReplies(server, { fingerprint: org, codename: $("replies-codename").value, params: config.params });
    const list = $("reply-list");
    list.replaceChildren();
    for (const reply of thread.replies) {
      const item = document.createElement("li");
      item.textContent = reply.message; // text, never markup
      list.append(item);
    }
    const key = thread.replies.length ? "replies-some" : "replies-none";
    $("replies-summary").dataset.i18n = "";
    $("replies-summary").textContent = t(key, { records: thread.records.length, count: thread.replies.length });
    $("replies-result").hidden = false;
  } catch (error) {
    showError(error);
  } finally {
    $("replies-status").hidden = true;
    busy(button, false);
  }
}

async function onFollowup(event) {
  event.preventDefault();
  clearErrors();
  $("followup-done").hidden = true;
  const name = $("followup-name").value.trim();
  const hangul = name && Array.from(name).every((c) => /[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f ]/u.test(c));
  const fields = {
    "detainee-name-hangul": hangul ? name : "",
    "detainee-name-roman": hangul ? "" : name,
    "source-relationship": $("followup-relationship").value,
    "source-knowledge": "hearsay",
    narrative: $("followup-text").value,
  };
  const built = buildReport(fields, [], lang);
  if (built.problems) {
    const map = { "detainee-name-hangul": "followup-name", "detainee-name-roman": "followup-name", "source-relationship": "followup-relationship", narrative: "followup-text" };
    for (const p of built.problems) markField(map[p.id] ?? "followup-text", p.code);
    showError({ code: "invalid" });
    return;
  }
  const button = $("followup-send");
  busy(button, true);
  try {
    await flow.addFollowup(server, thread, built.report);
    thread.followups.push({ record: thread.records[0].id, sequence: thread.followups.length + 1 });
    $("followup-done").hidden = false;
  } catch (error) {
    showError(error);
  } finally {
    busy(button, false);
  }
}

function showView(which) {
  const replies = which === "replies";
  // The submit view's results stay for when the person comes back to it (page.css).
  document.body.dataset.view = which;
  $("replies-view").hidden = !replies;
  $("view-submit").setAttribute("aria-pressed", String(!replies));
  $("view-replies").setAttribute("aria-pressed", String(replies));
  clearErrors();
}

$("org-fingerprint").value = config.fingerprint ?? "";
$("lang-ko").addEventListener("click", () => setLanguage("ko"));
$("lang-en").addEventListener("click", () => setLanguage("en"));
$("view-submit").addEventListener("click", () => showView("submit"));
$("view-replies").addEventListener("click", () => showView("replies"));
$("event-add").addEventListener("click", addEvent);
$("attachments").addEventListener("change", () => {
  $("attachment-list").replaceChildren(
    ...Array.from($("attachments").files ?? [], (f) => {
      const li = document.createElement("li");
      li.textContent = `${f.name} (${Math.ceil(f.size / 1024)} KiB)`;
      return li;
    }),
  );
});
$("submit-form").addEventListener("submit", onSubmit);
$("replies-form").addEventListener("submit", onReplies);
$("followup-form").addEventListener("submit", onFollowup);
setLanguage(preferredLanguage());
showView("submit");
document.documentElement.dataset.ready = "true";
