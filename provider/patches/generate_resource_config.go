// This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0. If a copy of
// the MPL was not distributed with this file, You can obtain one at https://mozilla.org/MPL/2.0/.
//
// Added by hardstack at build time to a copy of github.com/pulumi/terraform-plugin-sdk/v2 (MPL-2.0)
// in package helper/schema: terraform-plugin-go v0.31.0, which kreuzwerker's provider requires,
// added GenerateResourceConfig to tfprotov5.ProviderServer, and no served fork implements it yet.
// Pulumi never calls it; Terraform asks for it only to generate configuration on import.

package schema

import (
	"context"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

// GenerateResourceConfig reports that generating configuration is not supported.
func (s *GRPCProviderServer) GenerateResourceConfig(_ context.Context, _ *tfprotov5.GenerateResourceConfigRequest) (*tfprotov5.GenerateResourceConfigResponse, error) {
	return &tfprotov5.GenerateResourceConfigResponse{
		Diagnostics: []*tfprotov5.Diagnostic{{
			Severity: tfprotov5.DiagnosticSeverityError,
			Summary:  "GenerateResourceConfig is not supported by this build",
		}},
	}, nil
}
