//go:build yamlv3

package terraform_test

// With go.yaml.in/yaml/v3 required in go.mod, build the tests with -tags yamlv3 (or delete
// yaml_subset_test.go and this constraint) to read cloudbuild.yaml with a full parser.

import "go.yaml.in/yaml/v3"

func parseYAML(src []byte) (any, error) {
	var v any
	err := yaml.Unmarshal(src, &v)
	return v, err
}
