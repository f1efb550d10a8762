"""Time-based scheduling: cron fire times, run keys, crontab lines."""
