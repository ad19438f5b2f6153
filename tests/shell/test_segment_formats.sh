#!/usr/bin/env bash
# segment on HTML, PDF, DOCX and ODT, with real files: Debian's own
# documentation (base-passwd's HTML, libtasn1-doc's PDF) and files made
# here from segment(1) by groff (PDF), pandoc (DOCX, ODT, HTML) and qpdf
# (encrypted PDF). Spans point into the extracted text that --extract
# prints; broken, encrypted, text-less and hostile files fail alone with
# their own code.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-$(cd "$(dirname "$0")/../../bin" && pwd)}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly DEB_HTML=/usr/share/doc/base-passwd/users-and-groups.html
readonly DEB_PDF=/usr/share/doc/libtasn1-doc/libtasn1.pdf
export LANES_LOG_TIME=0

# spans_exact FILE [FLAGS...]: every segment of FILE is the slice
# [start,end) (bytes) of the text --extract prints, and there is one.
spans_exact() {
  local f="$1"
  shift
  "${BIN}/segment" --extract "${f}" 2>/dev/null >"${TMP}/x.json"
  "${BIN}/segment" "$@" "${f}" 2>/dev/null >"${TMP}/x.out"
  python3 - "${TMP}/x.json" "${TMP}/x.out" <<'PY'
import json, sys
doc = json.loads(open(sys.argv[1], encoding="utf-8").read())["text"].encode("utf-8")
segs = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
bad = [s["seq"] for s in segs if doc[s["start"]:s["end"]].decode("utf-8") != s["text"]]
print(len(segs), "segments, not slices:", bad[:5])
sys.exit(1 if bad or not segs else 0)
PY
}

# error_is FILE CODE [FLAGS...]: FILE fails alone with CODE (exit 1, one
# error record, a good document after it still segmented).
error_is() {
  local f="$1" code="$2"
  shift 2
  printf 'Still here.\n' >"${TMP}/after.txt"
  local rc=0
  "${BIN}/segment" "$@" "${f}" "${TMP}/after.txt" >"${TMP}/e.out" 2>"${TMP}/e.err" || rc=$?
  cat "${TMP}/e.err"
  ((rc == 1)) && jq -e -s --arg code "${code}" \
    'length == 2 and .[0].errors.segment.code == $code and (.[0] | has("text") | not)
     and .[1].text == "Still here."' "${TMP}/e.out"
}

make_files() {
  local man="${ROOT}/man/segment.1"
  groff -man -Tpdf "${man}" >"${TMP}/segment.pdf" 2>/dev/null
  pandoc -f man "${man}" -o "${TMP}/segment.docx" --metadata title="segment manual" --metadata lang=en-US
  pandoc -f man "${man}" -o "${TMP}/segment.odt" --metadata title="segment manual" --metadata lang=en-US
  qpdf --encrypt secret secret 256 -- "${TMP}/segment.pdf" "${TMP}/locked.pdf"
  # a page with a drawing and no text: what a scan without OCR looks like
  printf '.pl 3i\n\\D'"'"'l 2i 1i'"'"'\n' | groff -Tpdf >"${TMP}/scan.pdf" 2>/dev/null
  head -c 3000 "${TMP}/segment.pdf" >"${TMP}/cut.pdf"
  head -c 2000 "${TMP}/segment.docx" >"${TMP}/cut.docx"
}

html() {
  t "Debian's HTML: spans point into the extracted text" spans_exact "${DEB_HTML}" --target 300 --max 500
  t "Debian's HTML: <title> is the title field" \
    jq -e -s 'all(.title == "Users and Groups in the Debian System")' "${TMP}/x.out"
  cat >"${TMP}/page.htm" <<'EOF'
<!DOCTYPE html>
<html lang="de-CH"><head><title>Job:  Baker
</title><style>p { color: red }</style><script>var x = "not text";</script></head>
<body><nav><a href="/">Home</a> | <a href="/jobs">Jobs</a></nav>
<header>Site banner</header>
<h1>Baker &amp; pastry chef</h1>
<p>We bake&nbsp;bread. Caf&eacute; on site &#8211; since 1901.</p>
<ul><li>Early shifts.</li><li>Good pay.</li></ul>
<div hidden>Hidden text.</div><p aria-hidden="true">Also hidden.</p>
<table><tr><th>Day</th><th>Hours</th></tr><tr><td>Mon</td><td>5-13</td></tr></table>
<pre>line 1
  line 2</pre>
<footer>Copyright footer</footer></body></html>
EOF
  "${BIN}/segment" --target 60 --max 200 "${TMP}/page.htm" 2>/dev/null >"${TMP}/page.out"
  "${BIN}/segment" --extract "${TMP}/page.htm" 2>/dev/null | jq -r .text >"${TMP}/page.txt"
  t "HTML: script, style, nav, header, footer and hidden elements are left out" \
    bash -c "! grep -qE 'not text|color|Home|banner|Hidden|hidden|footer' '${TMP}/page.txt'"
  t "HTML: entities decoded" grep -qF "Baker & pastry chef" "${TMP}/page.txt"
  t "HTML: &nbsp; &eacute; &#8211;" grep -qF $'We bake\u00a0bread. Caf\u00e9 on site \u2013 since 1901.' "${TMP}/page.txt"
  t "HTML: table rows as lines, cells joined" grep -qxF 'Mon | 5-13' "${TMP}/page.txt"
  t "HTML: <pre> keeps its lines" grep -qxF '  line 2' "${TMP}/page.txt"
  t "HTML: title and lang fields" \
    jq -e -s 'all(.title == "Job: Baker" and .lang == "de-CH")' "${TMP}/page.out"
  t "HTML: the heading starts the first segment" \
    jq -e -s '.[0].text | startswith("Baker & pastry chef")' "${TMP}/page.out"
  t "HTML: list items stay whole" jq -e -s 'any(.text | contains("Early shifts.\n\nGood pay."))' "${TMP}/page.out"
  printf '<html><body><nav>Menu</nav><main><nav>Steps: 1, 2</nav><p>Main text.</p></main><p>Side.</p></body></html>' >"${TMP}/main.html"
  t "HTML with <main>: only the main content (boilerplate inside it kept)" \
    bash -c "'${BIN}/segment' --extract '${TMP}/main.html' 2>/dev/null | jq -e '.text == \"Steps: 1, 2\n\nMain text.\"'"
  printf '{"id":"web1","url":"http://x","text":"<html lang=\\"fr\\"><title>T</title><p>Un. Deux.</p></html>"}\n' \
    | "${BIN}/segment" --format html 2>/dev/null >"${TMP}/nd.out"
  t "NDJSON documents with --format html: converted, their fields and title/lang kept" \
    jq -e -s '.[0].text == "Un. Deux." and .[0].url == "http://x" and .[0].lang == "fr" and .[0].title == "T"' "${TMP}/nd.out"
  printf '{"id":"w","text":"<html><p>A &amp; B.</p></html>"}\n{"id":"m","text":"# T\\n\\nBody."}\n' \
    | "${BIN}/segment" --extract 2>/dev/null >"${TMP}/ndx.out"
  t "--extract on NDJSON documents: the extracted text of each, with its format" \
    jq -e -s '.[0] == {"id":"w","text":"A & B.","format":"html"} and .[1].text == "# T\n\nBody." and .[1].format == "markdown"' "${TMP}/ndx.out"
  python3 -c 'print("<div>" * 200000 + "deep" + "</div>" * 200000)' >"${TMP}/deep.html"
  t "HTML nested 200,000 deep: no crash, bounded" \
    bash -c "'${BIN}/segment' '${TMP}/deep.html' 2>/dev/null | jq -e -s 'length <= 1'"
}

pdf() {
  t "PDF made by groff: spans point into the extracted text" spans_exact "${TMP}/segment.pdf" --target 400 --max 600
  local pages
  pages="$("${BIN}/segment" --extract "${TMP}/segment.pdf" 2>/dev/null | jq .pages)"
  t "PDF: pages counted (${pages})" test "${pages}" -ge 3
  # shellcheck disable=SC2016  # $n is jq's
  t "PDF: every segment has its pages, in order, the last page reached" \
    jq -e -s --argjson n "${pages}" \
    'all(.page >= 1 and .page <= .page_end) and ([.[].page] == ([.[].page] | sort)) and .[-1].page_end == $n' "${TMP}/x.out"
  t "PDF: text in reading order" bash -c "'${BIN}/segment' --extract '${TMP}/segment.pdf' 2>/dev/null \
    | jq -r .text | grep -n -m1 -E '^(NAME|DESCRIPTION)$' | grep -q NAME"
  if [[ -f "${DEB_PDF}" ]]; then
    t "Debian's PDF (libtasn1-doc): spans exact" spans_exact "${DEB_PDF}"
  fi
  t "encrypted PDF: encrypted, the rest goes on" error_is "${TMP}/locked.pdf" encrypted
  t "PDF without text (a scan): no_text, said so" error_is "${TMP}/scan.pdf" no_text
  t "no_text says what to do" grep -qF 'run OCR' "${TMP}/e.err"
  t "broken PDF: bad_document" error_is "${TMP}/cut.pdf" bad_document
  printf '%%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%%%EOF\n' >"${TMP}/nopages.pdf"
  t "a PDF without pages: no_text, not an empty success" error_is "${TMP}/nopages.pdf" no_text
  t "PDF over --max-pages: too_big" error_is "${TMP}/segment.pdf" too_big --max-pages 1
}

office() {
  local f
  for f in docx odt; do
    t "${f} made by pandoc: spans exact" spans_exact "${TMP}/segment.${f}" --target 300 --max 500
    t "${f}: headings start segments, title and lang fields" \
      jq -e -s 'any(.text | startswith("DESCRIPTION\n\n")) and all(.title == "segment manual" and .lang == "en-US")' "${TMP}/x.out"
  done
  cp "${TMP}/segment.docx" "${TMP}/renamed.txt"
  t "DOCX detected by content whatever its name" \
    bash -c "'${BIN}/segment' --extract '${TMP}/renamed.txt' 2>/dev/null | jq -e '.format == \"docx\"'"
  t "broken DOCX: bad_document" error_is "${TMP}/cut.docx" bad_document
  # a zip bomb: 50 MB of XML in a few kB
  python3 - "${TMP}/bomb.docx" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", "<Types/>")
    z.writestr("word/document.xml", "<w:document xmlns:w='w'><w:body>" + " " * 50_000_000 + "</w:body></w:document>")
PY
  /usr/bin/time -f '%M' -o "${TMP}/bomb.rss" "${BIN}/segment" --max-document 1000000 "${TMP}/bomb.docx" \
    >"${TMP}/bomb.out" 2>"${TMP}/bomb.err" || true
  t "zip bomb ($(stat -c %s "${TMP}/bomb.docx") bytes): too_big" \
    jq -e '.errors.segment.code == "too_big"' "${TMP}/bomb.out"
  if [[ -z "${LANES_SANITIZER:-}" ]]; then
    t "zip bomb: peak RSS $(tail -n 1 "${TMP}/bomb.rss") kB stays small" test "$(tail -n 1 "${TMP}/bomb.rss")" -lt 60000
  fi
  # an encrypted DOCX is an OLE2 file holding an EncryptedPackage stream
  python3 -c 'import sys; sys.stdout.buffer.write(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 100)' >"${TMP}/locked.docx"
  t "encrypted DOCX: encrypted" error_is "${TMP}/locked.docx" encrypted
  python3 - "${TMP}/locked.odt" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    z.writestr("META-INF/manifest.xml", '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/></manifest:file-entry></manifest:manifest>')
    z.writestr("content.xml", "\x93\x11 encrypted bytes")
PY
  t "encrypted ODT: encrypted" error_is "${TMP}/locked.odt" encrypted
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  make_files
  html
  pdf
  office
  summary
}

main "$@"
