// Package export writes a trained fedcrypt model out of fedcrypt, so that a
// hospital's clinical stack can score raw rows with it: as an ONNX model
// ([ONNX]) that any ONNX runtime runs, or as a plain JSON file of weights
// and preprocessing ([JSON]) that a few lines of any language score.
// `fedcrypt model export` calls them on a sealed model.
//
// Both files are plaintext by design. They hold the weights and the
// preprocessing: the federation's transform, computed from its
// differentially private statistics or from declared bounds (fill values,
// clamping bounds, shifts and scales): nothing about any one patient beyond
// what the model and those released statistics reveal, but no longer
// protected by age. The model's own guarantee against revealing a training
// record is its differential privacy, which does not depend on secrecy.
//
// Only numeric classifiers are exported: logistic regression, softmax
// regression and MLPs (ReLU, sigmoid or tanh hidden layers) over numeric
// feature columns. Anything else is refused with [ErrNotNumeric].
//
// # Scoring a raw row
//
// A row is the feature values x₁…x_F in the order of the schema's features,
// with NaN (null in JSON) where a cell is missing. Both formats score it
// exactly as `fedcrypt predict` does:
//
//	aⱼ = (clamp(xⱼ, loⱼ, hiⱼ) − shiftⱼ) / scaleⱼ,  with xⱼ = fillⱼ where xⱼ is missing,
//	     and no clamp for a column without bounds
//	z  = a·W_l + b_l, then the layer's activation, for each layer l in order
//	relu(z) = max(z, 0),  sigmoid(z) = 1 / (1 + e^−z),  tanh(z)
//	output: softmax over the last layer's K logits, one per class; or, for a
//	        binary model with one logit z, p(classes[1]) = sigmoid(z) and
//	        p(classes[0]) = 1 − sigmoid(z)
//
// W_l is Inputs × Outputs, row-major: the weight from input i to output j is
// weights[i·outputs + j].
//
// # The ONNX model
//
// A ModelProto (IR version 7, default operator set 13), every tensor DOUBLE
// (float64), so that a runtime's probabilities match fedcrypt's to about
// 1e-15:
//
//	input  "features"       DOUBLE [N, F]  raw values, NaN = missing
//	IsNaN, Where(missing, fill, features)  imputation
//	Max(low), Min(high)                    clamping (when the transform clamps;
//	                                       ±∞ for a column without bounds)
//	Sub(shift), Div(scale)                 normalization
//	Gemm(W_l, b_l), then Relu | Sigmoid | Tanh, per hidden layer
//	Gemm(W, b), then Softmax(axis 1), or Sigmoid, Sub(1, p), Concat(axis 1)
//	output "probabilities"  DOUBLE [N, C]  columns in the order of the classes
//
// so a binary model's output has two columns, p(classes[0]) and
// p(classes[1]). The model's metadata_props name what a user needs:
// "features" and "classes" (JSON arrays of strings), "label",
// "positive_class" (binary models), "federation" (when known),
// "model_digest", "missing" ("NaN"), "impute" and "normalize". The digest is
// the SHA-256 of the parameters that the aggregator records in the audit
// log for each round's model ([Digest]). The protobuf is written with
// protowire by the field numbers of onnx/onnx.proto (see onnxpb.go).
//
// onnxruntime-web 1.30.0 (WebAssembly, CPU) runs every operator above in
// float64; the tests check it against fedcrypt on raw rows with missing
// cells (testdata/ort).
//
// # The JSON file
//
// One object; a reader must refuse a "format" other than "fedcrypt-export/v1"
// ([JSONFormat]) and should refuse fields it does not know ([DecodeJSON]
// does both):
//
//	format          "fedcrypt-export/v1"
//	federation      the federation's name, when known
//	model_digest    as in the ONNX metadata
//	features        feature column names, in input order
//	label           the label column's name
//	classes         class names, in output order
//	positive_class  binary models with one logit: classes[1]
//	missing         how a missing cell is given (a note for readers)
//	transform       impute, normalize (how it was computed: informative),
//	                fill, shift, scale: one value per feature; and clamp,
//	                present when a column is clamped: per feature null or
//	                [lo, hi]
//	layers          in order: inputs, outputs, activation (relu, sigmoid,
//	                tanh; the last layer sigmoid or softmax), weights
//	                (row-major, inputs × outputs), bias (outputs)
//
// For example, a logistic regression on two features:
//
//	{
//	  "format": "fedcrypt-export/v1",
//	  "model_digest": "",
//	  "features": ["age", "marker"],
//	  "label": "outcome",
//	  "classes": ["well", "sick"],
//	  "positive_class": "sick",
//	  "missing": "a missing cell is NaN (or null in JSON); it is replaced by transform.fill",
//	  "transform": {"impute": "mean", "normalize": "zscore", "fill": [3, 1], "shift": [2, 1], "scale": [2, 0.5]},
//	  "layers": [
//	    {"inputs": 2, "outputs": 1, "activation": "sigmoid", "weights": [1.5, -2], "bias": [0.5]}
//	  ]
//	}
//
// scores the row (age 4, marker missing) as a = ((4 − 2)/2, (1 − 1)/0.5) =
// (1, 0), z = 0.5 + 1.5·1 − 2·0 = 2, p(sick) = sigmoid(2) = 0.8808 (see the
// example of [DecodeJSON]). [File.Predict] is the reference implementation
// of these formulas.
package export
