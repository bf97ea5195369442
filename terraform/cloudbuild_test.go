package terraform_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// cloudBuild is ../cloudbuild.yaml, decoded generically (parseYAML).
type cloudBuild struct {
	substitutions map[string]any
	options       map[string]any
	steps         []map[string]any
}

func loadCloudBuild(t *testing.T) cloudBuild {
	t.Helper()
	doc, err := parseYAML(readFile(t, "../cloudbuild.yaml"))
	if err != nil {
		t.Fatalf("cloudbuild.yaml does not parse: %v", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("cloudbuild.yaml is not a mapping")
	}
	var cb cloudBuild
	cb.substitutions, _ = top["substitutions"].(map[string]any)
	cb.options, _ = top["options"].(map[string]any)
	steps, _ := top["steps"].([]any)
	for i, s := range steps {
		step, ok := s.(map[string]any)
		if !ok {
			t.Fatalf("step %d is not a mapping", i)
		}
		cb.steps = append(cb.steps, step)
	}
	if len(cb.steps) == 0 {
		t.Fatal("cloudbuild.yaml has no steps")
	}
	return cb
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, str(x))
	}
	return out
}

const builtImage = "${_REGION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/service:$COMMIT_SHA"

func TestCloudBuildDeploysEachServiceWithItsFunction(t *testing.T) {
	cb := loadCloudBuild(t)
	for _, k := range []string{"_REGION", "_REPOSITORY"} {
		if str(cb.substitutions[k]) == "" {
			t.Errorf("substitution %s has no default", k)
		}
	}
	if got := str(cb.options["logging"]); got != "CLOUD_LOGGING_ONLY" {
		t.Errorf("options.logging = %q: a build running as its own service account needs CLOUD_LOGGING_ONLY (or a logs bucket)", got)
	}

	ids := map[string]int{}
	for i, s := range cb.steps {
		id := str(s["id"])
		if id == "" {
			t.Errorf("step %d has no id", i)
		}
		if _, dup := ids[id]; dup {
			t.Errorf("step id %q twice", id)
		}
		ids[id] = i
		if str(s["name"]) == "" {
			t.Errorf("step %q has no image", id)
		}
	}
	for i, s := range cb.steps {
		for _, w := range strs(s["waitFor"]) {
			if j, ok := ids[w]; !ok || j >= i {
				t.Errorf("step %q waits for %q, which is not an earlier step", str(s["id"]), w)
			}
		}
	}

	// Tests run before the image is built; the image is built with buildpacks from
	// function/cmd/server and pushed before any deploy.
	testStep, buildStep, pushStep := -1, -1, -1
	for i, s := range cb.steps {
		args := strings.Join(strs(s["args"]), " ")
		switch {
		case strings.Contains(args, "go test -race -count=1 -timeout 30m ./...") && strings.Contains(args, "go vet ./..."):
			testStep = i
			if !strings.Contains(str(s["name"]), "google-cloud-cli:emulators") {
				t.Errorf("tests run in %s, want the google-cloud-cli:emulators image (gcloud emulators, Java)", str(s["name"]))
			}
		case str(s["entrypoint"]) == "pack" && slices.Contains(strs(s["args"]), "build"):
			buildStep = i
			a := strs(s["args"])
			if !slices.Contains(a, builtImage) || !slices.ContainsFunc(a, func(x string) bool { return strings.HasPrefix(x, "--builder=gcr.io/buildpacks/builder@") }) ||
				!slices.Contains(a, "--env=GOOGLE_BUILDABLE=./function/cmd/server") {
				t.Errorf("pack build args %v: want %s, the Google Cloud builder and GOOGLE_BUILDABLE=./function/cmd/server", a, builtImage)
			}
		case slices.Equal(strs(s["args"]), []string{"push", builtImage}):
			pushStep = i
		}
	}
	if testStep < 0 || buildStep < 0 || pushStep < 0 {
		t.Fatalf("want a test step, a pack build step and a docker push step (found %d, %d, %d)", testStep, buildStep, pushStep)
	}
	if !(testStep < buildStep && buildStep < pushStep) {
		t.Error("steps must run test, then build, then push")
	}
	if !slices.Contains(strs(cb.steps[buildStep]["waitFor"]), str(cb.steps[testStep]["id"])) {
		t.Error("the image build must wait for the tests")
	}

	m := loadModule(t)
	for svc, fn := range serviceFns {
		name := ctyString(m.mustEval(t, attr(m.resource(t, "google_cloud_run_v2_service", "service"), "name"),
			m.instances(t, "google_cloud_run_v2_service", "service")[svc]))
		var found []map[string]any
		for _, s := range cb.steps {
			a := strs(s["args"])
			if len(a) >= 4 && slices.Equal(a[:3], []string{"run", "services", "update"}) && a[3] == name {
				found = append(found, s)
			}
		}
		if len(found) != 1 {
			t.Errorf("service %s: %d deploy steps, want 1 (`gcloud run services update %s`)", svc, len(found), name)
			continue
		}
		s := found[0]
		a := strs(s["args"])
		if str(s["entrypoint"]) != "gcloud" {
			t.Errorf("deploy of %s: entrypoint %q, want gcloud", svc, str(s["entrypoint"]))
		}
		for _, want := range []string{
			"--image=" + builtImage,
			"--region=${_REGION}",
			"--update-env-vars=FUNCTION_TARGET=" + fn,
		} {
			if !slices.Contains(a, want) {
				t.Errorf("deploy of %s lacks %s (args %v)", svc, want, a)
			}
		}
		for _, x := range a {
			if strings.HasPrefix(x, "--set-env-vars") || strings.HasPrefix(x, "--clear-env-vars") ||
				strings.HasPrefix(x, "--set-secrets") || strings.HasPrefix(x, "--clear-secrets") {
				t.Errorf("deploy of %s uses %s, which would drop the configuration Terraform set", svc, x)
			}
		}
		if !slices.Contains(strs(s["waitFor"]), str(cb.steps[pushStep]["id"])) {
			t.Errorf("deploy of %s must wait for the push", svc)
		}
	}
}

// pinned matches an image reference that names one build of the image: a digest, or a tag
// with a full version (1.11.4, not 1.11 or latest).
var pinned = regexp.MustCompile(`^[a-z0-9./_-]+(@sha256:[0-9a-f]{64}|:v?[0-9]+\.[0-9]+\.[0-9]+)$`)

// TestCloudBuildImagesPinned: the images that build the service and check its Terraform are
// pinned, so a build does what the last one did: the pack CLI, Google's buildpacks builder,
// and Terraform 1.11.4.
func TestCloudBuildImagesPinned(t *testing.T) {
	cb := loadCloudBuild(t)
	var pack, builder, terraform string
	for _, s := range cb.steps {
		name := str(s["name"])
		switch {
		case str(s["entrypoint"]) == "pack":
			pack = name
			for _, a := range strs(s["args"]) {
				if b, ok := strings.CutPrefix(a, "--builder="); ok {
					builder = b
				}
			}
		case strings.HasPrefix(name, "hashicorp/terraform"):
			terraform = name
		}
	}
	for what, ref := range map[string]string{"pack image": pack, "buildpacks builder": builder} {
		if !pinned.MatchString(ref) {
			t.Errorf("%s %q is not pinned (want a digest, @sha256:…, or a full version)", what, ref)
		}
	}
	if !strings.HasPrefix(pack, "gcr.io/k8s-skaffold/pack@") && !strings.HasPrefix(pack, "gcr.io/k8s-skaffold/pack:") {
		t.Errorf("pack image %q, want gcr.io/k8s-skaffold/pack pinned", pack)
	}
	if !strings.HasPrefix(builder, "gcr.io/buildpacks/builder@sha256:") {
		t.Errorf("builder %q, want gcr.io/buildpacks/builder pinned by digest (its tags move)", builder)
	}
	if terraform != "hashicorp/terraform:1.11.4" {
		t.Errorf("terraform image %q, want hashicorp/terraform:1.11.4", terraform)
	}
}
