// Package central trains one model on one data set, without a federation:
// the reference every federated result is compared to, and its DP-SGD
// version.
//
// [Train] fits the input transform on the training rows only (imputation
// and normalization; for a text model the hashed n-grams and, when on, their
// IDF), trains a fresh model, scores it on the test rows and returns the
// sealable payload. [CrossValidate] runs it over stratified K folds and
// summarizes the metrics as mean and standard deviation over folds; under
// DP every row trains in K−1 folds, so the ε it reports composes K−1
// trainings.
//
// With [Settings.DP] the noise multiplier is calibrated so the steps cost at
// most the target ε at δ under the chosen accountant; the noise comes from
// crypto/rand. Nothing here prints: progress is reported through the
// settings' OnEpoch and OnStep hooks.
package central
