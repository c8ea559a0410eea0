// Package shim exposes kreuzwerker's SDKv2 provider, whose constructor lives in an internal package.
// Go's internal rule goes by import path, and this module's path sits under the provider's.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the Terraform provider the bridge wraps.
func NewProvider() *schema.Provider {
	return provider.New("hardstack")()
}
