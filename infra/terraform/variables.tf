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
  type    = string
  default = "User"
}

variable "action_group_id" {
  type        = string
  default     = ""
  description = "Resource id of an existing action group for the alerts; empty creates one."
}

variable "alert_email_address" {
  type        = string
  default     = ""
  description = "E-mail receiver of the action group created when action_group_id is empty (optional)."
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
  type    = number
  default = 40
  validation {
    condition     = var.maximum_instance_count >= 40 && var.maximum_instance_count <= 1000
    error_message = "maximum_instance_count must be between 40 and 1000."
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
  description = "Partner Center: the partner's Entra tenant id (PC_TENANT_ID)."
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
