"""versioning: versioned datasets of datapoints behind Humanloop's datasets API."""
