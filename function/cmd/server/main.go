// Command server is the production entry point: the Functions Framework on $PORT. With
// FUNCTION_TARGET set it serves that function at /; without it, every function at /<Name>.
// It loads and checks the configuration before listening, and stops with every problem named
// when it is wrong.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/aulasneo/wc-openedx/function"
)

func main() {
	app, err := function.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := funcframework.StartHostPort("", strconv.Itoa(app.Config.Port)); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
