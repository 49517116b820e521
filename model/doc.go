// Package model holds the networks fedcrypt trains: logistic and softmax regression and
// multilayer perceptrons, their losses, optimizers, metrics and weight files, and the batch
// queries DP-SGD is built on.
package model
