package audit

import (
	"html/template"
	"strings"
	ttemplate "text/template"
)

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fedcrypt compliance report</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 62rem; padding: 0 1rem; color: #1b1f24; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
.sub { color: #57606a; margin-top: 0; }
.banner { padding: .8rem 1rem; border-radius: 6px; margin: 1rem 0; font-weight: 600; }
.unprotected { background: #ffebe9; border: 2px solid #cf222e; color: #82071e; }
.fail { background: #ffebe9; border: 1px solid #cf222e; color: #82071e; }
.ok { background: #dafbe1; border: 1px solid #1a7f37; color: #0f5323; }
.note { background: #fff8c5; border: 1px solid #d4a72c; color: #4d2d00; font-weight: normal; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
code, .digest { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .8rem; word-break: break-all; }
figure { margin: 1rem 0; }
figure svg { width: 100%; height: auto; border: 1px solid #d0d7de; background: #fff; }
figcaption { color: #57606a; font-size: .9rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
</style>
</head>
<body>
<h1>Compliance report</h1>
<p class="sub">fedcrypt federated training run — {{.Source}}</p>
{{range .Run.Unprotected}}<div class="banner unprotected" id="unprotected">UNPROTECTED RUN: {{.}}</div>
{{end}}
{{if and .Verified .Complete}}<div class="banner ok" id="verdict">{{.Verdict}}</div>{{else if .Verified}}<div class="banner note" id="verdict">{{.Verdict}}</div>{{else}}<div class="banner fail" id="verdict">{{.Verdict}}</div>{{end}}
{{if .Note}}<div class="banner note">{{.Note}}</div>{{end}}
{{if .Witnessed}}<p id="witnesses">{{.Witnessed}}</p>{{end}}

<h2>Privacy guarantee per hospital</h2>
{{if .Run.DP}}<p>Each hospital trained with DP-SGD. Its guarantee holds for the neighbouring relation
<b>{{.Run.Neighbouring}}</b>, accounted with the <b>{{.Run.Accountant.Kind}}</b> accountant at δ = {{.Run.Delta}} over every round
it contributed to. Whatever anyone learns from the released model changes by at most a factor e<sup>ε</sup>,
except with probability δ, whether or not any one {{if .Run.PrivacyUnit}}patient's{{else}}record's{{end}} data was used.
The claimed ε is signed by the hospital; the recomputed ε is this verifier's, from the DP parameters the hospital signed.</p>{{end}}
<table id="hospitals">
<tr><th>hospital</th><th>roles</th><th>guarantee</th><th>rounds</th><th>ε claimed</th><th>ε recomputed</th><th>cap</th></tr>
{{range .Hospitals}}<tr><td>{{.ID}}</td><td>{{.Roles}}</td><td>{{.Guarantee}}</td><td>{{.Rounds}}</td><td>{{.Claimed}}</td><td>{{.Recomputed}}</td><td>{{.Cap}}</td></tr>
{{end}}</table>
{{if .Statistics}}
<h2>Statistics phase</h2>
<p id="statistics">{{.Statistics}}</p>
{{end}}
{{with .Evaluation}}
<h2>Private evaluation</h2>
<p id="evaluation">{{.Line}}</p>
{{if .Scores}}<table id="evaluation-scores">
<tr><th>scored by</th><th>rows (noisy)</th><th>accuracy</th><th>precision</th><th>recall</th><th>F1</th><th>AUC</th></tr>
{{range .Scores}}<tr><td>{{.Who}}</td><td>{{.Rows}}</td><td>{{.Accuracy}}</td><td>{{.Precision}}</td><td>{{.Recall}}</td><td>{{.F1}}</td><td>{{.AUC}}</td></tr>
{{end}}</table>{{end}}
{{end}}
<h2>Figures</h2>
{{if not .Metrics}}<p>This run published no per-round evaluation (rounds.csv): accuracy and AUC are not shown.</p>
{{end}}{{range .Plots}}<figure id="plot-{{.File}}">
{{.SVG}}
<figcaption>{{.Title}}</figcaption>
</figure>
{{end}}

<h2>Encryption and quorum</h2>
<dl>
<dt>updates encrypted</dt><dd>{{if .Run.Encrypted}}yes, multiparty CKKS{{else}}NO{{end}}</dd>
{{if .Run.Encrypted}}<dt>CKKS preset</dt><dd>{{.Run.Preset}}</dd>
<dt>security level</dt><dd>{{.Run.Security}}</dd>
<dt>update bound (L2)</dt><dd>{{.Run.UpdateBound}}</dd>{{end}}
<dt>threshold T</dt><dd>{{.Run.Threshold}} key holders decrypt each sum</dd>
<dt>min contributors</dt><dd>{{.Run.MinContributors}} uploads at least in every decrypted sum</dd>
<dt>rounds completed</dt><dd>{{.Completed}}{{if .Run.Ended}} ({{.Run.Ended}}){{end}}</dd>
{{if .Run.Software}}<dt>software</dt><dd>{{.Run.Software}}</dd>{{end}}
</dl>
{{if .Run.Epochs}}<p>Decryption shares are noise-flooded for every decryption a collective key may ever release: its decryption budget, in ciphertext decryptions. Each decryption takes the next range of the budget, endorsed by a quorum of key holders; a key whose budget could not cover another round is replaced (a new key epoch).</p>
<table id="epochs">
<tr><th>key epoch</th><th>from entry</th><th>why</th><th>decryption budget</th><th>used</th><th>statistical security left</th></tr>
{{range .Run.Epochs}}<tr><td>{{.Epoch}}</td><td>{{.Entry}}</td><td>{{if .Reason}}{{.Reason}}{{else}}setup{{end}}</td><td>{{.Budget}}</td><td>{{.Used}}</td><td>{{printf "%.1f" .SecurityBits}} bits</td></tr>
{{end}}</table>{{end}}

<h2>Commitments</h2>
<dl>
<dt>federation config</dt><dd class="digest">{{.Run.ConfigHash}}</dd>
{{if .Run.CollectiveKey}}<dt>collective public key</dt><dd class="digest">{{.Run.CollectiveKey}}</dd>{{end}}
<dt>final model</dt><dd class="digest">{{if .FinalModel}}{{.FinalModel}}{{else}}—{{end}}</dd>
<dt>audit log head</dt><dd class="digest">{{.Run.Head}} ({{.Run.Entries}} entries)</dd>
<dt>data sets</dt><dd>Each hospital signs, with every upload, a keyed commitment to the data set it used (HMAC-SHA256 of its rows under a key only it holds: the same data gives the same commitment in every round and run, and nobody else can test a guess of small data against it), with the payload digest (SHA-256 of what was sent); both are listed per round below.</dd>
</dl>

<h2>Rounds</h2>
<table id="rounds">
<tr><th>round</th><th>status</th><th>contributors</th><th>declined</th><th>dropped out</th><th>decryption set</th><th>model digest</th></tr>
{{range .Rounds}}<tr><td>{{.Round}}</td><td>{{.Status}}</td><td>{{.Contributors}}</td><td>{{.Declined}}</td><td>{{.Dropped}}</td><td>{{.Set}}</td><td class="digest">{{.Model}}</td></tr>
{{end}}</table>
<details><summary>Signed upload digests</summary>
<table>
<tr><th>round</th><th>hospital</th><th>payload SHA-256</th><th>data set commitment</th></tr>
{{range $r := .Rounds}}{{range .Uploads}}<tr><td>{{$r.Round}}</td><td>{{.From}}</td><td class="digest">{{.PayloadDigest}}</td><td class="digest">{{.Dataset}}</td></tr>
{{end}}{{end}}</table>
</details>
</body>
</html>
`))

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

var markdownTemplate = ttemplate.Must(ttemplate.New("report").Funcs(ttemplate.FuncMap{"cell": mdCell}).Parse(`# Compliance report

fedcrypt federated training run — ` + "`{{.Source}}`" + `
{{range .Run.Unprotected}}
> **UNPROTECTED RUN: {{.}}**
{{end}}
**{{.Verdict}}**
{{if .Note}}
*{{.Note}}*
{{end}}{{if .Witnessed}}
{{.Witnessed}}
{{end}}
## Privacy guarantee per hospital
{{if .Run.DP}}
Neighbouring relation: {{.Run.Neighbouring}}; accountant {{.Run.Accountant.Kind}}; δ = {{.Run.Delta}}.
The claimed ε is signed by the hospital; the recomputed ε is this verifier's, from the DP parameters the hospital signed.
{{end}}
| hospital | roles | guarantee | rounds | ε claimed | ε recomputed | cap |
|---|---|---|---|---|---|---|
{{range .Hospitals}}| {{.ID}} | {{.Roles}} | {{cell .Guarantee}} | {{.Rounds}} | {{.Claimed}} | {{.Recomputed}} | {{.Cap}} |
{{end}}{{if .Statistics}}
## Statistics phase

{{.Statistics}}
{{end}}
{{with .Evaluation}}## Private evaluation

{{.Line}}
{{if .Scores}}
| scored by | rows (noisy) | accuracy | precision | recall | F1 | AUC |
|---|---|---|---|---|---|---|
{{range .Scores}}| {{cell .Who}} | {{.Rows}} | {{.Accuracy}} | {{.Precision}} | {{.Recall}} | {{.F1}} | {{cell .AUC}} |
{{end}}{{end}}
{{end}}## Figures
{{if not .Metrics}}
This run published no per-round evaluation (rounds.csv): accuracy and AUC are not shown.
{{end}}{{range .Plots}}
![{{.Title}}]({{.File}})

*{{.Title}}*
{{end}}
## Encryption and quorum

- updates encrypted: {{if .Run.Encrypted}}yes, multiparty CKKS, preset {{.Run.Preset}} — {{.Run.Security}}{{else}}**NO**{{end}}
- threshold T: {{.Run.Threshold}}; min contributors: {{.Run.MinContributors}}
- rounds completed: {{.Completed}}{{if .Run.Ended}} ({{.Run.Ended}}){{end}}
{{range .Run.Epochs}}- key epoch {{.Epoch}} ({{if .Reason}}{{.Reason}}{{else}}setup{{end}}): {{.Used}} of {{.Budget}} ciphertext decryptions used; {{printf "%.1f" .SecurityBits}} bits of statistical security left
{{end}}
## Commitments

- federation config: ` + "`{{.Run.ConfigHash}}`" + `
{{if .Run.CollectiveKey}}- collective public key: ` + "`{{.Run.CollectiveKey}}`" + `
{{end}}- final model: ` + "`{{.FinalModel}}`" + `
- audit log head: ` + "`{{.Run.Head}}`" + ` ({{.Run.Entries}} entries)
- data sets: each hospital signs, with every upload, a keyed commitment to its data set (HMAC-SHA256 under a key only it holds) and the payload digest.

## Rounds

| round | status | contributors | declined | dropped out | decryption set | model digest |
|---|---|---|---|---|---|---|
{{range .Rounds}}| {{.Round}} | {{cell .Status}} | {{.Contributors}} | {{cell .Declined}} | {{.Dropped}} | {{.Set}} | ` + "`{{.Model}}`" + ` |
{{end}}`))
