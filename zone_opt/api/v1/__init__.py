"""Generated code for package ``zone_opt.api.v1`` (`make proto`)."""
