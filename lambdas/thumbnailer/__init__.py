"""The thumbnailer Lambda function (S3 ObjectCreated/ObjectRemoved on raw/)."""
