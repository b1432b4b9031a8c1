-- Local accounts created, deleted, changed or added to or removed from a local group.
SELECT "Timestamp", DeviceName, DeviceId, ActionType, AccountDomain, AccountName, AccountSid,
    coalesce(json_extract_string(AdditionalFields, '$.GroupName'), '') AS GroupName, InitiatingProcessFileName,
    InitiatingProcessCommandLine, InitiatingProcessId, InitiatingProcessCreationTime,
    InitiatingProcessAccountName
FROM DeviceEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType IN ('UserAccountCreated', 'UserAccountDeleted', 'UserAccountModified',
    'UserAccountAddedToLocalGroup', 'UserAccountRemovedFromLocalGroup')
ORDER BY "Timestamp"
