// Package data turns CSV files into labelled numeric data sets and prepares
// them for training and federation: loading with clear errors, missing
// values, normalization fitted on training rows only, a schema every
// hospital's data must match, stratified splits, partitioning into
// hospitals, and synthetic data for scale tests.
//
// # Loading
//
// [Load] reads a CSV with a header row. [Options] name the label column,
// the positive class of a binary label, columns to drop (identifiers) and
// the privacy-unit column (the patient), and choose what happens to rows
// with missing cells ("", "?", "NA", "N/A", "NaN", "null", and per column
// the declared codes of [Options.MissingValues], such as a cholesterol of
// 0). With declared features ([Options.Features], as [Schema.LoadOptions]
// sets them) a feature the file lacks is missing in every row, for the
// federation's transform to impute, and [Report.Absent] names it. Malformed input
// never panics: the error is one line naming the file, the line and the
// column, such as
//
//	wdbc.csv: line 12: 30 fields, header has 31
//	wdbc.csv: line 5, column "radius_mean": not a number
//	heart.csv: line 1: no label column "class" in the header (did you mean "Class"? columns: "Age", "Class")
//
// and never quotes a cell's value, which is patient data.
//
// A free-text column ([Options.Text]: notes, abstracts) is kept as one
// document per row in [Dataset.Text] rather than parsed as a number; a
// missing cell is an empty document and a cell that is not valid UTF-8 is
// an error naming the line and column. Package text turns the documents
// into model input; a data set may then have no numeric feature at all.
//
// A [Report] says what loading found (rows read and dropped, missing cells
// per column, constant columns, columns that look like identifiers, class
// counts); it holds counts, column
// names and class names, never a feature value or a patient identifier,
// so it may be logged.
//
// Two public reference sets are embedded ([Embedded], [LoadEmbedded]):
// "wdbc", Breast Cancer Wisconsin (Diagnostic), 569 rows, 30 features,
// 212 malignant (label "diagnosis", positive "M"); and "digits", Optical
// Recognition of Handwritten Digits, 1797 rows of 8×8 images, 10 classes
// (label "digit"). Both are CC BY 4.0; see [Attribution].
//
// # Preparing data for training
//
// A [Transform] imputes missing cells (column mean or median) and
// normalizes (z-score or min-max) with statistics fitted by [FitTransform]
// on training rows only, or built by a federation from its DP statistics
// (package stats) with per-column clamping to declared bounds; it is
// JSON-serializable so it travels with the model and applies unchanged to
// test rows and new patients.
// [StratifiedSplit] and [StratifiedKFold] keep class proportions;
// [Partition] spreads a data set over hospitals IID, with Dirichlet label
// skew or with quantity skew ([Scheme], [ParseScheme]); all three are
// deterministic given a seed (a ChaCha8 stream per purpose, derived from
// it). A [Schema] (features, label, classes, privacy unit) is written in
// the federation's configuration and [Schema.Check] rejects a hospital's
// data set that departs from it. [Synthetic] makes reproducible data of
// any size and width for scale tests.
//
// # Formulas
//
// Normalization, per column j with statistics over the n training rows
// after imputation (σ the population standard deviation, as in
// scikit-learn's StandardScaler, against which BASELINES.md was measured):
//
//	zscore: x' = (x − μⱼ) / σⱼ
//	minmax: x' = (x − minⱼ) / (maxⱼ − minⱼ)
//
// Dirichlet label skew over N hospitals (Hsu, Qi and Brown, "Measuring the
// Effects of Non-Identical Data Distribution for Federated Visual
// Classification", arXiv:1909.06335, 2019): for each class k,
//
//	pₖ ~ Dir(α, …, α),  pₖ,ₕ = gₕ / Σ gᵢ with gᵢ ~ Gamma(α, 1)
//
// and hospital h receives round(pₖ,ₕ · nₖ) of class k's nₖ units (largest
// remainder). Quantity skew draws one q ~ Dir(α, …, α) for the sizes (Li,
// Diao, Chen and He, "Federated Learning on Non-IID Data Silos: An
// Experimental Study", ICDE 2022). A hospital's share pₖ,ₕ has mean 1/N
// and variance (1/N)(1 − 1/N)/(Nα + 1), so α → 0 gives each class to one
// hospital and α → ∞ is IID.
//
// # Invariants
//
// Every [Dataset] this package returns satisfies [Dataset.Validate]: X is
// Rows() × len(Features) with at least one of each; Y holds class indices
// into Classes (binary labels: 1 is the positive class Classes[1]); with
// a privacy unit, Units index UnitIDs densely. Missing cells are NaN in X
// until a [Transform] is applied; X is never infinite.
//
// # Privacy
//
// Rows of one patient (one privacy unit) are never separated: splits and
// partitions move whole units, so differential privacy accounted per
// patient holds. Errors and reports never carry a patient identifier; an
// error may quote the one malformed cell it is about, shortened.
package data
