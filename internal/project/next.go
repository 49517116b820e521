package project

import (
	"fmt"

	"github.com/fedcrypt/fedcrypt/federation"
)

// BuildNext builds the federation's next version from the project file,
// after members were added or removed (or certificates renewed): the
// config of [File.Build] with the lineage that makes it follow prev
// ([federation.NextLineage]). It refuses a project that cannot follow
// prev ([federation.CheckSuccessor]): another name or DP budget, or a
// member listed under its id with other keys, would cut members off from
// their ledgers.
func (f *File) BuildNext(prev *federation.Config) (*federation.Config, error) {
	fed, err := f.Build()
	if err != nil {
		return nil, err
	}
	fed.Lineage = federation.NextLineage(prev, fed)
	if err := fed.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	if err := federation.CheckSuccessor(prev, fed); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return fed, nil
}
