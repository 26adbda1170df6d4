variable "subscription_id" {
  type        = string
  description = "Subscription to deploy into."
}

variable "environment_name" {
  type        = string
  description = "Environment name; every resource name derives from it (same role as AZURE_ENV_NAME)."
}

variable "location" {
  type        = string
  description = "Azure region of every resource (Flex Consumption must be offered there)."
}

variable "principal_id" {
  type        = string
  default     = ""
  description = "Optional object id of a person or group that gets data access and may set Key Vault secrets."
}

variable "principal_type" {
  type        = string
  default     = "User"
  description = "Kind of principal_id: User, Group or ServicePrincipal (a pipeline's identity)."
  validation {
    condition     = contains(["User", "Group", "ServicePrincipal"], var.principal_type)
    error_message = "principal_type must be User, Group or ServicePrincipal."
  }
}

variable "action_group_id" {
  type        = string
  default     = ""
  description = "Resource id of an existing action group for the alerts; empty creates one."
}

variable "alert_email_address" {
  type        = string
  default     = ""
  description = "E-mail receiver of the action group created when action_group_id is empty."
  validation {
    # An action group without receivers lets the five alerts fire unseen.
    condition     = var.alert_email_address != "" || var.action_group_id != "" || var.alerts_without_receiver
    error_message = "The alerts would notify nobody: set alert_email_address or action_group_id, or set alerts_without_receiver = true to accept that."
  }
}

variable "alerts_without_receiver" {
  type        = bool
  default     = false
  description = "Explicit opt-out: create the alerts with an action group that notifies nobody."
}

variable "instance_memory_mb" {
  type    = number
  default = 2048
  validation {
    condition     = contains([512, 2048, 4096], var.instance_memory_mb)
    error_message = "instance_memory_mb must be 512, 2048 or 4096."
  }
}

variable "maximum_instance_count" {
  type        = number
  default     = 40
  description = "Most instances Flex Consumption scales out to (1-1000). Queue concurrency, and so the peak rate of Salesforce and Partner Center calls, is about instances x (batchSize + newBatchThreshold) from host.json; lower it to cap API pressure."
  validation {
    condition     = var.maximum_instance_count >= 1 && var.maximum_instance_count <= 1000
    error_message = "maximum_instance_count must be between 1 and 1000."
  }
}

variable "storage_replication_type" {
  type        = string
  default     = "GZRS"
  description = "Geo-redundant by default: the link table is the only record of which referral is which opportunity."
  validation {
    condition     = contains(["GZRS", "RAGZRS", "GRS", "RAGRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be geo-redundant."
  }
}

variable "pc_tenant_id" {
  type        = string
  default     = ""
  description = "Partner Center: the partner's Entra tenant id (PC_TENANT_ID), the token authority; empty means the deploying tenant."
}

variable "pc_client_id" {
  type        = string
  default     = ""
  description = "Partner Center: the Entra app (client) id (PC_CLIENT_ID)."
}

variable "pc_webhook_callback_url" {
  type        = string
  default     = ""
  description = "Public URL of the webhook function; empty means the app's default host name."
}

variable "sf_login_url" {
  type        = string
  default     = "https://login.salesforce.com"
  description = "Salesforce login host: login.salesforce.com, test.salesforce.com or a My Domain URL."
}

variable "sf_auth_mode" {
  type    = string
  default = "jwt"
  validation {
    condition     = contains(["jwt", "client_credentials", "password"], var.sf_auth_mode)
    error_message = "sf_auth_mode must be jwt, client_credentials or password."
  }
}

variable "sf_client_id" {
  type    = string
  default = ""
}

variable "sf_username" {
  type    = string
  default = ""
}

variable "log_level" {
  type        = string
  default     = "INFO"
  description = "LOG_LEVEL: Python log level of the app's loggers."
  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "setting_overrides" {
  type        = map(string)
  default     = {}
  description = "Values for other app settings of shared/config.py (name = string value), e.g. stage names."
}

variable "sync_failure_rate_percent" {
  type        = number
  default     = 10
  description = "Alert when more than this % of syncs fail (failed or poisoned) within 15 minutes."
}

variable "poll_lag_threshold_seconds" {
  type        = number
  default     = 900
  description = "Alert when the Salesforce poll reports a lag above this, or does not report, for 15 minutes."
}

variable "webhook_silence_hours" {
  type        = number
  default     = 24
  description = "Alert when no Partner Center webhook was accepted for this many hours."
  validation {
    # Log alert windows accept only these hour counts.
    condition     = contains([1, 2, 3, 4, 5, 6, 24, 48], var.webhook_silence_hours)
    error_message = "webhook_silence_hours must be 1-6, 24 or 48."
  }
}

variable "function_error_threshold" {
  type        = number
  default     = 5
  description = "Alert when one function fails at least this often within 15 minutes."
}
