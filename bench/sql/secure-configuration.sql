-- The latest assessment of each protection setting that matters during an incident.
WITH latest AS (
    SELECT * FROM DeviceTvmSecureConfigurationAssessment
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ConfigurationId IN ('scid-2003', 'scid-2010', 'scid-2011', 'scid-2012',
        'scid-2016', 'scid-96', 'scid-2500', 'scid-2501', 'scid-2502', 'scid-2503', 'scid-2504',
        'scid-2505', 'scid-2506', 'scid-2507', 'scid-2508', 'scid-2509', 'scid-2510', 'scid-2511',
        'scid-2512', 'scid-2513', 'scid-2514')
    QUALIFY row_number() OVER (PARTITION BY DeviceId, ConfigurationId ORDER BY "Timestamp" DESC) = 1
)
SELECT l.DeviceName, l.DeviceId, l.ConfigurationId,
    CASE l.ConfigurationId WHEN 'scid-2003' THEN 'Tamper protection'
        WHEN 'scid-2010' THEN 'Antivirus turned on' WHEN 'scid-2011' THEN 'Antivirus signatures current'
        WHEN 'scid-2012' THEN 'Real-time protection' WHEN 'scid-2016' THEN 'Cloud-delivered protection'
        WHEN 'scid-96' THEN 'Network protection in block mode'
        ELSE 'Attack surface reduction rule in block mode' END AS Control,
    k.ConfigurationName, l.IsCompliant, l.IsApplicable, l.ConfigurationImpact, l."Timestamp" AS Assessed
FROM latest l LEFT JOIN DeviceTvmSecureConfigurationAssessmentKB k ON k.ConfigurationId = l.ConfigurationId
ORDER BY DeviceName, l.ConfigurationId
