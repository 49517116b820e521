package central

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/text"
	"gonum.org/v1/gonum/mat"
)

// textInputs is the featurization of a text model, fitted on the training
// rows only: the text column's hashed n-grams weighted with IDF from the
// training rows (when on), then any numeric features, imputed and
// normalized with the training rows' statistics, as extra columns.
type textInputs struct {
	tt *text.Transform
	tf *data.Transform // nil without numeric features
}

// fitTextInputs fits the featurization on train and returns it with train's input.
func fitTextInputs(train *data.Dataset, cfg text.Config, normalize string) (*textInputs, *model.CSR, error) {
	tt, err := text.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	counts, err := tt.Counts(train.Text)
	if err != nil {
		return nil, nil, fmt.Errorf("training rows: %w", err)
	}
	if cfg.IDF {
		if err := tt.FitIDF(counts); err != nil {
			return nil, nil, err
		}
	}
	ti := &textInputs{tt: tt}
	if len(train.Features) > 0 {
		if ti.tf, err = data.FitTransform(train.X, train.Options().Imputation(), normalize); err != nil {
			return nil, nil, err
		}
	}
	x, err := ti.finish(counts, train)
	return ti, x, err
}

// apply returns the input of rows d.
func (ti *textInputs) apply(d *data.Dataset) (*model.CSR, error) {
	counts, err := ti.tt.Counts(d.Text)
	if err != nil {
		return nil, err
	}
	return ti.finish(counts, d)
}

// finish weights the counts of d's documents and appends d's numeric features.
func (ti *textInputs) finish(counts *model.CSR, d *data.Dataset) (*model.CSR, error) {
	if err := ti.tt.Weight(counts); err != nil {
		return nil, err
	}
	if ti.tf == nil {
		return counts, nil
	}
	x := mat.NewDense(d.Rows(), len(d.Features), nil)
	if err := ti.tf.Apply(x, d.X); err != nil {
		return nil, err
	}
	return model.AppendColumns(counts, x), nil
}
