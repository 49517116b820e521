// Package examples holds runnable programs on fedcrypt's public Go API,
// each readable in one sitting:
//
//   - breastcancer: three hospitals train a breast-cancer diagnosis model
//     together, with DP-SGD at ε = 1 each and CKKS-encrypted updates, and
//     compare it with what one hospital could do alone.
//   - digits: five hospitals with non-IID (Dirichlet) shares of a
//     handwritten-digits data set train an MLP together.
//   - clinicaltext: three hospitals classify medical abstracts from their
//     free text (hashed words, softmax regression, IDF from DP document
//     frequencies), CKKS-encrypted, without privacy and with DP-SGD at
//     ε = 3 each, beside the centralized reference (CC BY-SA 3.0 data,
//     attribution in examples/clinicaltext/ATTRIBUTION.md; the command
//     line's version of it in examples/clinicaltext/README.md).
//
// Run them with `go run ./examples/breastcancer`, `go run ./examples/digits`
// and `go run ./examples/clinicaltext`.
// The data sets are the embedded public ones (UCI, CC BY 4.0; attribution
// in data/embedded/ATTRIBUTION.md).
package examples
