package terraform_test

import "go.yaml.in/yaml/v3"

func parseYAML(src []byte) (any, error) {
	var v any
	err := yaml.Unmarshal(src, &v)
	return v, err
}
