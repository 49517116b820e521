// Package model holds the networks fedcrypt trains — logistic regression, softmax regression and
// multilayer perceptrons — with their losses, optimizers, metrics and weight files, and the batch
// queries that differentially private training is built on.
//
// # Models
//
// A [Config] names the architecture: kind "logreg" (one sigmoid output, binary cross-entropy),
// "softmax" (K outputs, softmax cross-entropy) or "mlp" (hidden layers with ReLU, sigmoid or tanh,
// then either of those heads or raw outputs with mean squared error). [ParseSpec] turns the
// command line's "logreg", "mlp:64,32:tanh" into a Config. Losses are computed from the logits
// so that they stay finite for any input:
//
//	BCE:        ℓ = max(z,0) − y·z + log(1 + e^−|z|)
//	softmax CE: ℓ = log Σₖ e^{zₖ} − z_y, with log-sum-exp shifted by maxₖ zₖ
//	MSE:        ℓ = (1/K) Σₖ (zₖ − yₖ)²
//
// Every parameter lives in one []float64 ([Model.Params]); layer l is z = a·W_l + b_l with W_l
// (In×Out, row-major) stored first and b_l (Out) right after it, layers in order from the input.
// Gradients, optimizer state and the weight file use the same layout, so a model update is one
// flat vector for encryption and aggregation.
//
// # Per-example gradients without materializing them
//
// DP-SGD clips each example's gradient to a norm bound before summing (Abadi et al. 2016, "Deep
// Learning with Differential Privacy"). [Model.Backward] runs one batched forward and backward pass
// and keeps, for every dense layer, the input activations aᵢ and the output errors δᵢ = ∂ℓᵢ/∂zᵢ of
// each example i. The example's gradient for the layer is the outer product δᵢ(aᵢ, 1)ᵀ (weights
// and bias), whose squared Frobenius norm factorizes (Goodfellow 2015, "Efficient Per-Example
// Gradient Computations", arXiv:1510.01799):
//
//	‖∇ℓᵢ‖² = Σ_layers ‖δᵢ‖² · (‖aᵢ‖² + 1)
//
// so [Workspace.Norms] costs one pass over the stored activations (the same trick, extended to
// convolutions: Rochette, Manoel & Tramel 2019, "Efficient Per-Example Gradient Computations in
// Convolutional Neural Networks", arXiv:1912.06015). The clipped sum Σᵢ cᵢ∇ℓᵢ is the gradient of
// the reweighted loss Σᵢ cᵢℓᵢ, which Lee & Kifer (2021, "Scaling up Differentially Private Deep
// Learning with Fast Per-Example Gradient Clipping", PoPETs 2021(1)) obtain by a second backward
// pass. Each example's errors scale linearly with its loss weight at every layer, so the stored
// errors already give it, one matrix product per layer and no second pass:
//
//	Σᵢ cᵢ∇ℓᵢ:  ∂W = Aᵀ·diag(c)·Δ,  ∂b = Δᵀ·c              ([Workspace.Gradient])
//
// When the privacy unit is a patient with several rows, the norm to clip is that of the patient's
// summed gradient. For a group g of rows, per layer,
//
//	‖Σ_{i∈g} δᵢ(aᵢ,1)ᵀ‖² = Σ_{i,j∈g} (δᵢ·δⱼ)(aᵢ·aⱼ + 1)
//
// which [Workspace.GroupNorms] evaluates pairwise, or by forming the group's gradient when that is
// cheaper (large groups, narrow layers).
//
// Invariants: the batched results match per-example brute force (Backward on one row at a time)
// to 1e-9 relative, and central differences to 1e-6; a warmed-up [Workspace] allocates nothing
// per batch.
//
// # Sparse input: text models
//
// A [SparseModel] takes [CSR] rows (hashed n-grams from package text): a sparse first layer
// hᵢ = Σⱼ xᵢⱼ E_j (+ b), then nothing ([KindSparseLinear]: softmax or logistic regression) or a
// dense head ([KindEmbeddingBag]: fastText's mean of token embeddings, then a linear or MLP
// head; Joulin, Grave, Bojanowski & Mikolov 2017). [CSR.AppendRow] merges repeated columns
// (repeated tokens, hash collisions) into one entry, so row i of E is touched once per document
// with weight xᵢⱼ, and the example's gradient of E is xᵢδᵢᵀ with δᵢ = ∂ℓᵢ/∂hᵢ. Its norm needs only
// the stored values (Goodfellow 2015; for embeddings, Li, Tramèr, Liang & Hashimoto 2022, "Large
// Language Models Can Be Strong Differentially Private Learners"):
//
//	‖∇ℓᵢ‖² = ‖δᵢ‖² (Σⱼ xᵢⱼ² + 1[bias]) + Σ_head layers ‖δᵢ⁽ˡ⁾‖² (‖aᵢ⁽ˡ⁾‖² + 1)
//	‖Σ_{i∈g} ∇ℓᵢ‖² (sparse layer) = Σ_{i,k∈g} (δᵢ·δₖ)(xᵢ·xₖ + 1[bias])
//
// [SparseWorkspace.Norms] and [SparseWorkspace.GroupNorms] cost a pass over the batch's
// non-zeros; [SparseWorkspace.Gradient] scatters Σᵢ cᵢ xᵢⱼ δᵢ into the rows the batch touches
// and leaves the others zero. The results match per-example brute force to 1e-9 relative, and
// softmax regression on sparse rows matches the dense model on the same rows written densely.
//
// # Optimizers, metrics, training
//
// [NewOptimizer] builds SGD with momentum, Adam or RMSprop ([OptimizerConfig] gives the update
// rules); their state marshals exactly, so training resumed from saved state is bit-for-bit the
// training that was interrupted. [Evaluate] reports accuracy, precision, recall, F1, ROC AUC, the
// confusion matrix, and how well calibrated the probabilities are: Brier score and expected
// calibration error. [Fit] is plain mini-batch training: the non-private reference that private
// and federated results are compared to.
//
// # Weight file format
//
// [Model.MarshalBinary] writes, and [Unmarshal] reads, version 1 of this format (integers
// little-endian):
//
//	offset      size   field
//	0           4      magic "FCMW"
//	4           2      version, uint16 = 1
//	6           4      L, length of the config, uint32 (at most 65536)
//	10          L      the Config as JSON, e.g. {"kind":"logreg","inputs":30,"outputs":1,"loss":"bce"}
//	10+L        8      P, number of parameters, uint64; must equal what the config implies
//	18+L        8·P    the parameters in the layout above, IEEE 754 float64 each; all finite
//	18+L+8P     4      CRC-32 (IEEE) of every byte before it, uint32
//
// A [SparseModel] is written in the same layout with the magic "FCSW" and a [SparseConfig] as
// the config ([SparseModel.MarshalBinary], [UnmarshalSparse]), e.g.
// {"kind":"sparse-linear","inputs":262144,"outputs":5,"loss":"softmax-ce"}.
//
// Loading checks each of these (magic, version, config validity and unknown fields, parameter
// count against the architecture, exact length, checksum, finiteness) and says which failed.
// [Model.UnmarshalBinary] additionally requires the architecture of the receiving model. The file
// carries no secret of its own but is a trained model: at rest it is sealed by package vault.
//
// # Concurrency and secrets
//
// A [Model] is not safe for concurrent mutation; [Model.Predict], [Model.Loss] and [Evaluate] may
// run concurrently while nobody writes the parameters. A [Workspace] and an [Optimizer] belong to
// one goroutine. Errors and panics name rows, columns and indices, never feature or label values
// or gradients (at most they say that a value is NaN or infinite).
//
// # Performance
//
// Measured on the 2-core development machine (AMD EPYC, gonum's pure-Go BLAS) while other jobs
// loaded it (load average 6–12): mean times per operation varied several-fold between runs, so
// the benchmarks also report the fastest repetition, which other load can only slow down.
//
//	go test ./model -run XXX -bench Train -benchtime 1s -count 4
//
//	non-private training step, batch 64 (Backward, Gradient(nil), mean, Adam step)
//	logreg, 30 features (31 params)       fastest step 4.1 µs  = 15.7M examples/s  (mean 4.6–6.7M)
//	mlp 64→128→64→10 (17,226 params)      fastest step 1.02 ms = 63k examples/s    (mean 16–20k)
//
//	go test ./model -run XXX -bench 'Gradient/params=1e4/ratio' -benchtime 1s -count 3
//	go test ./model -run XXX -bench 'Gradient/params=1e6/ratio' -benchtime 25x -count 3
//
//	gradient work per batch of 64, fastest of each step, the steps alternated in one run:
//	non-private = Backward + Gradient(nil); private = Backward + Norms + clip factors +
//	Gradient(c); groups = the same with GroupNorms over 16 groups of 4 rows
//	                                       non-private   private/non-private  groups/non-private
//	mlp 64→128→10 (9,610 params)           0.50 ms       1.013–1.016          1.035–1.037
//	mlp 784→1000→200→10 (987,210 params)   36–79 ms      0.97–1.18            0.92–1.12
//
// At 10⁴ parameters the private step costs 1.3–1.6% more than the non-private one, clipping
// per group 3.5–3.7% more. At 10⁶ the difference is below what this loaded machine resolves
// (eight runs for private, five for groups; ratios spread around 1 in both directions). The
// norms are dot products over the stored activations and errors, and the clip weights scale the
// narrower factor of each layer's product. The package's own code allocates nothing per batch
// once the Workspace has grown; the allocations reported for the largest network are the
// goroutines of gonum's parallel Dgemm.
package model
