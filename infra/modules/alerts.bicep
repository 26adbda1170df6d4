// Log alerts on the app's custom metrics (shared/telemetry.py) and the host's request telemetry.
// Each query returns rows only when something is wrong; the rule fires on any row.
param namePrefix string
param actionGroupName string
param location string
param tags object
param appInsightsId string
param actionGroupId string = ''
param alertEmailAddress string = ''
// ARM rejects any other value with "The provided value 'False' for the template parameter
// 'alertsHaveAReceiverOrAlertsWithoutReceiverIsSet' is not valid": set alertEmailAddress
// (ALERT_EMAIL_ADDRESS) or actionGroupId (ALERT_ACTION_GROUP_ID), or opt out with
// alertsWithoutReceiver (ALERTS_WITHOUT_RECEIVER=true).
@allowed([true])
@description('Set alertEmailAddress or actionGroupId, or alertsWithoutReceiver to accept alerts that notify nobody.')
param alertsHaveAReceiverOrAlertsWithoutReceiverIsSet bool
param syncFailureRatePercent int
param pollLagThresholdSeconds int
param webhookSilenceHours int
param functionErrorThreshold int

var rules = [
  {
    key: 'poison-queue'
    title: 'cosell-sync: poison queue not empty'
    description: 'Jobs in sync-jobs-poison gave up after maxDequeueCount; inspect with `status`, fix, then `replay`.'
    severity: 1
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
    query: loadTextContent('../monitoring/poison-queue.kql')
  }
  {
    key: 'sync-failure-rate'
    title: 'cosell-sync: sync failure rate'
    description: 'More than ${syncFailureRatePercent}% of syncs failed or were poisoned in 15 minutes.'
    severity: 2
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
    query: 'let failureRatePercent = ${syncFailureRatePercent};\n${loadTextContent('../monitoring/sync-failure-rate.kql')}'
  }
  {
    key: 'poll-lag'
    title: 'cosell-sync: Salesforce poll lag'
    description: 'The Salesforce poll is more than ${pollLagThresholdSeconds} s behind, or did not run, in 15 minutes.'
    severity: 2
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
    query: 'let pollLagThresholdSeconds = ${pollLagThresholdSeconds};\n${loadTextContent('../monitoring/poll-lag.kql')}'
  }
  {
    key: 'webhook-silence'
    title: 'cosell-sync: no Partner Center webhook'
    description: 'No webhook accepted for ${webhookSilenceHours} h; check the registration (`register-webhooks`).'
    severity: 3
    windowSize: 'PT${webhookSilenceHours}H'
    evaluationFrequency: 'PT1H'
    query: loadTextContent('../monitoring/webhook-silence.kql')
  }
  {
    key: 'function-errors'
    title: 'cosell-sync: function errors'
    description: 'A function failed ${functionErrorThreshold} or more times in 15 minutes.'
    severity: 2
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
    query: 'let functionErrorThreshold = ${functionErrorThreshold};\n${loadTextContent('../monitoring/function-errors.kql')}'
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (empty(actionGroupId)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'cosellsync'
    enabled: true
    emailReceivers: empty(alertEmailAddress) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: '${namePrefix}-${rule.key}'
  location: location
  tags: tags
  properties: {
    displayName: rule.title
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      appInsightsId
    ]
    windowSize: rule.windowSize
    evaluationFrequency: rule.evaluationFrequency
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        empty(actionGroupId) ? actionGroup.id : actionGroupId
      ]
    }
  }
}]
