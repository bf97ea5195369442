package deps

import (
	_ "cloud.google.com/go/firestore"
	_ "cloud.google.com/go/pubsub/v2"
	_ "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	_ "github.com/chromedp/chromedp"
	_ "github.com/hashicorp/hcl/v2/hclparse"
	_ "github.com/sendgrid/sendgrid-go"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "google.golang.org/api/idtoken"
	_ "google.golang.org/grpc/codes"
)
