// A shared workbook over the app's custom metrics: syncs per direction, latency, failures, queues.
param location string
param tags object
param appInsightsId string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'cosell-sync-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'cosell-sync operations'
    category: 'workbook'
    sourceId: appInsightsId
    version: 'Notebook/1.0'
    serializedData: loadTextContent('../monitoring/workbook.json')
  }
}

output id string = workbook.id
