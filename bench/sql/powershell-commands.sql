-- PowerShell commands that AMSI logged, and PowerShell command lines.
SELECT "Timestamp", DeviceName, DeviceId, 'Command' AS Kind,
    coalesce(json_extract_string(AdditionalFields, '$.Command'), '') AS Command, InitiatingProcessId AS ProcessId,
    InitiatingProcessCreationTime AS ProcessCreationTime, InitiatingProcessAccountName AS AccountName,
    InitiatingProcessParentFileName AS ParentFileName
FROM DeviceEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType = 'PowerShellCommand'
UNION ALL
SELECT "Timestamp", DeviceName, DeviceId, 'Command line', ProcessCommandLine, ProcessId,
    ProcessCreationTime, AccountName, InitiatingProcessFileName
FROM DeviceProcessEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND lower(FileName) IN ('powershell.exe', 'pwsh.exe', 'powershell_ise.exe')
ORDER BY "Timestamp"
