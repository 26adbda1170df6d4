# Log alerts on the app's custom metrics (shared/telemetry.py) and the host's request telemetry.
# Each query (../monitoring/*.kql) returns rows only when something is wrong; a rule fires on any row.
locals {
  alert_rules = {
    "poison-queue" = {
      title       = "cosell-sync: poison queue not empty"
      description = "Jobs in sync-jobs-poison gave up after maxDequeueCount; inspect with `status`, fix, then `replay`."
      severity    = 1
      window      = "PT15M"
      frequency   = "PT5M"
      query       = file("${path.module}/../monitoring/poison-queue.kql")
    }
    "sync-failure-rate" = {
      title       = "cosell-sync: sync failure rate"
      description = "More than ${var.sync_failure_rate_percent}% of syncs failed or were poisoned in 15 minutes."
      severity    = 2
      window      = "PT15M"
      frequency   = "PT5M"
      query       = "let failureRatePercent = ${var.sync_failure_rate_percent};\n${file("${path.module}/../monitoring/sync-failure-rate.kql")}"
    }
    "poll-lag" = {
      title       = "cosell-sync: Salesforce poll lag"
      description = "The Salesforce poll is more than ${var.poll_lag_threshold_seconds} s behind, or did not run, in 15 minutes."
      severity    = 2
      window      = "PT15M"
      frequency   = "PT5M"
      query       = "let pollLagThresholdSeconds = ${var.poll_lag_threshold_seconds};\n${file("${path.module}/../monitoring/poll-lag.kql")}"
    }
    "webhook-silence" = {
      title       = "cosell-sync: no Partner Center webhook"
      description = "No webhook accepted for ${var.webhook_silence_hours} h; check the registration (`register-webhooks`)."
      severity    = 3
      window      = "PT${var.webhook_silence_hours}H"
      frequency   = "PT1H"
      query       = file("${path.module}/../monitoring/webhook-silence.kql")
    }
    "function-errors" = {
      title       = "cosell-sync: function errors"
      description = "A function failed ${var.function_error_threshold} or more times in 15 minutes."
      severity    = 2
      window      = "PT15M"
      frequency   = "PT5M"
      query       = "let functionErrorThreshold = ${var.function_error_threshold};\n${file("${path.module}/../monitoring/function-errors.kql")}"
    }
  }
  action_group_id = var.action_group_id != "" ? var.action_group_id : azurerm_monitor_action_group.main[0].id
}

resource "azurerm_monitor_action_group" "main" {
  count               = var.action_group_id == "" ? 1 : 0
  name                = local.names.action_group
  resource_group_name = azurerm_resource_group.main.name
  short_name          = "cosellsync"
  tags                = local.tags

  dynamic "email_receiver" {
    for_each = var.alert_email_address == "" ? [] : [var.alert_email_address]
    content {
      name                    = "operator"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "main" {
  for_each                = local.alert_rules
  name                    = "${local.names.alert_prefix}-${each.key}"
  resource_group_name     = azurerm_resource_group.main.name
  location                = var.location
  display_name            = each.value.title
  description             = each.value.description
  severity                = each.value.severity
  enabled                 = true
  scopes                  = [azurerm_application_insights.main.id]
  window_duration         = each.value.window
  evaluation_frequency    = each.value.frequency
  auto_mitigation_enabled = true
  tags                    = local.tags

  criteria {
    query                   = each.value.query
    time_aggregation_method = "Count"
    operator                = "GreaterThan"
    threshold               = 0

    failing_periods {
      number_of_evaluation_periods             = 1
      minimum_failing_periods_to_trigger_alert = 1
    }
  }

  action {
    action_groups = [local.action_group_id]
  }
}
