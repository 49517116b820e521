#!/usr/bin/env bash
# Renders a fedcrypt compliance report in headless Chromium, as a person
# would see it, and checks that its plots are there.
#
#   scripts/render-report.sh                      # simulate a run, report it, render and check it
#   scripts/render-report.sh REPORT.html [OUT.png]
#
# Without arguments it builds fedcrypt, runs a seeded 6-round simulation of
# 5 hospitals with dropouts, writes its report, renders it to
# report.png (in a temporary directory, or $OUT_DIR when set) and checks:
#   - the page has the plot figures, each an inline SVG with drawn paths;
#   - the screenshot shows each plot: the pixels of a colour only that
#     plot draws (the ε cap line, the AUC line, the participation bars).
# It installs Debian's chromium package when chromium is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v chromium >/dev/null 2>&1; then
	echo "render-report: installing chromium (Debian package)" >&2
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

work=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$work"
if [ $# -ge 1 ]; then
	report=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
	png=${2:-$work/report.png}
else
	(cd "$here" && go build -o "$work/fedcrypt" ./cmd/fedcrypt)
	run=$(mktemp -d "$work/run.XXXXXX")
	"$work/fedcrypt" sim --rounds 6 --hospitals 5 --dropout 0.15 --seed 4 --out "$run" >/dev/null
	report=$work/report.html
	"$work/fedcrypt" report "$run" -i "$run/researcher.key" -o "$report"
	png=$work/report.png
	require=epsilon,metrics,participation
fi
[ -f "$report" ] || { echo "render-report: no report at $report" >&2; exit 1; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
	--disable-sync --no-first-run --user-data-dir="$profile" --hide-scrollbars --window-size=1280,3600)

chromium "${flags[@]}" --screenshot="$png" "file://$report" >/dev/null 2>&1
chromium "${flags[@]}" --dump-dom "file://$report" 2>/dev/null >"$work/dom.html"

python3 - "$work/dom.html" "$png" "${require:-}" <<'EOF'
import re, struct, sys, zlib

dom, png, require = sys.argv[1], sys.argv[2], sys.argv[3]
html = open(dom, encoding="utf-8").read()
figures = re.findall(r'<figure id="plot-([a-z]+)">(.*?)</figure>', html, re.S)
missing = set(filter(None, require.split(","))) - {n for n, _ in figures}
if len(figures) < 2 or missing:
    sys.exit(f"render-report: plot figures {[n for n, _ in figures]} in the rendered page; missing {sorted(missing)}")
for name, body in figures:
    if "<svg" not in body or body.count("<path") < 10:
        sys.exit(f"render-report: plot {name}: no drawn SVG ({body.count('<path')} paths)")

def pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"render-report: {path} is not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if depth != 8 or ctype not in (2, 6) or interlace:
        sys.exit(f"render-report: unsupported PNG (depth {depth}, colour type {ctype})")
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, out, i = bytearray(stride), [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line))
        prev = line
    return w, h, bpp, out

w, h, bpp, rows = pixels(png)
# Each plot's own colour: the ε plot's dashed cap line (200, 0, 0); the
# AUC line of the metrics plot (gonum's second soft colour); the
# "contributed" bars of the participation plot (its first), a large area.
need = {"epsilon": ("cap line", (200, 0, 0), 300), "metrics": ("AUC line", (122, 195, 106), 1000),
        "participation": ("bars", (241, 90, 96), 20000)}
counts = {name: 0 for name, _ in figures if name in need}
for row in rows:
    for x in range(0, w * bpp, bpp):
        r, g, b = row[x], row[x + 1], row[x + 2]
        for name in counts:
            pr, pg, pb = need[name][1]
            if abs(r - pr) < 12 and abs(g - pg) < 12 and abs(b - pb) < 12:
                counts[name] += 1
print(f"render-report: {png}: {w}x{h}, {len(figures)} plots, pixels of each plot's colour {counts}")
short = [f"{n} ({need[n][0]}: {c} pixels)" for n, c in counts.items() if c < need[n][2]]
if short:
    sys.exit(f"render-report: plots not drawn in the screenshot: {', '.join(short)}")
EOF
echo "render-report: OK: $png"
